import Foundation
import Tensor

/// Reading an image set back: every tensor of the file is validated before it is used, so a
/// damaged or hostile file (`load_images`, a synthesis cache entry) fails with
/// `SynthesisError.invalid("<file>: tensor '<name>' …")` instead of trapping on a NaN label, a
/// short region row or an empty `tau`.
///
/// Layout checked (B images, K classes, R regions, T iterations):
/// - `images` (B, C, H, W) finite, B ≥ 1; metadata `mean`/`std` have C entries (std > 0)
/// - `labels` (B) integers in 0..<K; `soft_targets` (B, K) finite, K ≥ 1
/// - `draws.tau` exactly one finite value; `draws.jitter` (T, 2) integers; `draws.flips` (T) of 0/1
/// - `draws.regions` (R, 6) integer rows (image, y, x, h, w, label) inside their image, label < K
/// - `draws.image_z` (B, K) and `draws.region_z` (R, K) finite; `draws.prior.<block>` 3-D finite
/// - `draws.real_indices` (N) and `draws.kept_patches` (B, k) non-negative integers
extension ImageSet {
    /// Integers are stored as Float32; beyond 2^24 they are no longer exact (and `Int(_:)` of a
    /// huge float would trap), so that is the largest accepted magnitude.
    static let maxStoredInteger = 1 << 24

    static func decode(_ f: SafetensorsFile, file: String) throws -> ImageSet {
        guard f.metadata["format"] == format else {
            throw SynthesisError.invalid("\(file): format is \(f.metadata["format"] ?? "missing"), expected \(format)")
        }
        let v = Validator(file: file)
        func need(_ k: String) throws -> Tensor {
            guard let t = f[k] else { throw SynthesisError.invalid("\(file): not an image set (no tensor '\(k)')") }
            return t
        }
        let images = try need("images")
        try v.shape(images, "images", rank: 4)
        try v.finite(images, "images")
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        guard b >= 1, c >= 1, h >= 1, w >= 1 else { throw v.fail("images", "has an empty dimension: \(shapeString(images.shape))") }

        let soft = try need("soft_targets")
        try v.shape(soft, "soft_targets", rank: 2)
        let classes = soft.shape[1]
        guard soft.shape[0] == b, classes >= 1 else {
            throw v.fail("soft_targets", "is \(shapeString(soft.shape)), expected (\(b), classes ≥ 1) for \(b) images")
        }
        try v.finite(soft, "soft_targets")

        let labelsT = try need("labels")
        guard labelsT.shape == [b] else { throw v.fail("labels", "is \(shapeString(labelsT.shape)), expected (\(b))") }
        let labels = try v.ints(labelsT, "labels", in: 0...(classes - 1))

        let floats = { (k: String) in (f.metadata[k] ?? "").split(separator: ",").map { Float(String($0)) } }
        let mean = floats("mean"), std = floats("std")
        guard mean.count == c, std.count == c, mean.allSatisfy({ $0?.isFinite == true }), std.allSatisfy({ ($0 ?? 0) > 0 && $0!.isFinite }) else {
            throw SynthesisError.invalid("\(file): metadata mean/std must be \(c) finite numbers each (std > 0) for \(c) channels, "
                + "got \"\(f.metadata["mean"] ?? "")\" / \"\(f.metadata["std"] ?? "")\"")
        }

        var d = SynthesisDraws()
        d.labels = labels
        if let t = f["draws.tau"] {
            guard t.count == 1, t.ptr[0].isFinite else {
                throw v.fail("draws.tau", "must hold exactly one finite value, got \(t.count) value(s) of shape \(shapeString(t.shape))")
            }
            d.tau = t.ptr[0]
        }
        if let j = f["draws.jitter"] {
            guard j.rank == 2, j.shape[1] == 2 else { throw v.fail("draws.jitter", "is \(shapeString(j.shape)), expected (iterations, 2)") }
            let o = try v.ints(j, "draws.jitter", in: -maxStoredInteger...maxStoredInteger)
            d.jitter = (0..<j.shape[0]).map { (o[2 * $0], o[2 * $0 + 1]) }
        }
        if let fl = f["draws.flips"] {
            guard fl.shape == [d.jitter.count] else {
                throw v.fail("draws.flips", "is \(shapeString(fl.shape)), expected (\(d.jitter.count)): one per row of draws.jitter")
            }
            d.flips = try v.ints(fl, "draws.flips", in: 0...1).map { $0 != 0 }
        } else if !d.jitter.isEmpty {
            throw SynthesisError.invalid("\(file): tensor 'draws.jitter' has no matching 'draws.flips'")
        }
        for e in f.tensors where e.name.hasPrefix("draws.prior.") {
            guard let l = Int(e.name.dropFirst("draws.prior.".count)), l >= 0 else {
                throw v.fail(e.name, "does not name a block (expected draws.prior.<block number>)")
            }
            try v.shape(e.tensor, e.name, rank: 3)
            try v.finite(e.tensor, e.name)
            d.priors.append((l, e.tensor))
        }
        d.priors.sort { $0.block < $1.block }
        if let r = f["draws.regions"] {
            guard r.rank == 2, r.shape[1] == 6 else {
                throw v.fail("draws.regions", "is \(shapeString(r.shape)), expected (regions, 6) rows of image, y, x, h, w, label")
            }
            let x = try v.ints(r, "draws.regions", in: -maxStoredInteger...maxStoredInteger)
            for i in 0..<r.shape[0] {
                let row = Array(x[(6 * i)..<(6 * i + 6)])
                let box = PixelBox(image: row[0], y: row[1], x: row[2], h: row[3], w: row[4])
                guard (0..<b).contains(box.image), box.y >= 0, box.x >= 0, box.h >= 1, box.w >= 1,
                      box.y + box.h <= h, box.x + box.w <= w, (0..<classes).contains(row[5]) else {
                    throw v.fail("draws.regions", "row \(i) \(row) is not a box inside one of \(b) \(h)x\(w) images with a label in 0..<\(classes)")
                }
                d.regions.append(Region(box: box, label: row[5]))
            }
        }
        if let z = f["draws.image_z"] {
            guard z.shape == [b, classes] else { throw v.fail("draws.image_z", "is \(shapeString(z.shape)), expected (\(b), \(classes))") }
            try v.finite(z, "draws.image_z")
            d.imageZ = z
        }
        if let z = f["draws.region_z"] {
            guard z.shape == [d.regions.count, classes] else {
                throw v.fail("draws.region_z", "is \(shapeString(z.shape)), expected (\(d.regions.count), \(classes)): one row per region")
            }
            try v.finite(z, "draws.region_z")
            d.regionZ = z
        }
        if let t = f["draws.real_indices"] {
            guard t.rank == 1 else { throw v.fail("draws.real_indices", "is \(shapeString(t.shape)), expected 1-D") }
            d.realIndices = try v.ints(t, "draws.real_indices", in: 0...maxStoredInteger)
        }
        if let k = f["draws.kept_patches"] {
            guard k.rank == 2, k.shape[0] == b else {
                throw v.fail("draws.kept_patches", "is \(shapeString(k.shape)), expected (\(b), kept patches)")
            }
            let x = try v.ints(k, "draws.kept_patches", in: 0...maxStoredInteger)
            d.keptPatches = (0..<b).map { Array(x[($0 * k.shape[1])..<(($0 + 1) * k.shape[1])]) }
        }
        var info = f.metadata
        for k in ["format", "method", "seed", "mean", "std"] { info[k] = nil }
        return ImageSet(images: images, labels: labels, softTargets: soft, mean: mean.map { $0! }, std: std.map { $0! },
                        method: f.metadata["method"] ?? "?", seed: UInt64(f.metadata["seed"] ?? "0") ?? 0, draws: d, info: info)
    }

    /// Checks on one tensor of an image-set file; every error names the file and the tensor.
    struct Validator {
        let file: String

        func fail(_ name: String, _ what: String) -> SynthesisError { .invalid("\(file): tensor '\(name)' \(what)") }

        func shape(_ t: Tensor, _ name: String, rank: Int) throws {
            guard t.rank == rank else { throw fail(name, "is \(shapeString(t.shape)), expected \(rank)-D") }
        }

        func finite(_ t: Tensor, _ name: String) throws {
            if let i = (0..<t.count).first(where: { !t.ptr[$0].isFinite }) {
                throw fail(name, "holds a non-finite value (\(t.ptr[i]) at flat index \(i))")
            }
        }

        /// The values as integers, each finite, whole and in `range`.
        func ints(_ t: Tensor, _ name: String, in range: ClosedRange<Int>) throws -> [Int] {
            var out = [Int](repeating: 0, count: t.count)
            for i in 0..<t.count {
                let x = t.ptr[i]
                // The range test in Float first: Int(x) of a NaN or huge x would trap.
                guard x.isFinite, x == x.rounded(), x >= Float(range.lowerBound), x <= Float(range.upperBound), range.contains(Int(x)) else {
                    throw fail(name, "value \(x) at flat index \(i) is not an integer in \(range.lowerBound)…\(range.upperBound)")
                }
                out[i] = Int(x)
            }
            return out
        }
    }
}
