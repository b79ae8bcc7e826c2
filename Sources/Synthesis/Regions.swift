import Foundation
import Tensor

/// One MSR region: a box of one image and the class it is pushed towards.
public struct Region: Equatable, Hashable, CustomStringConvertible {
    public var box: PixelBox
    public var label: Int
    public init(box: PixelBox, label: Int) { self.box = box; self.label = label }
    public var description: String { "\(box) label \(label)" }
}

/// Multi-Semantic Reinforcement layouts (METHOD §3). [decision] m uniform in 1…K_MSR; each side
/// uniform (whole pixels) in [⌈side/4⌉, ⌊side/2⌋], the two axes independent; placed by rejection
/// sampling (at most `attempts` tries per region; a region that does not fit is dropped, so an
/// image may end with fewer than m regions, never with overlaps); labels uniform over the classes.
public enum MSR {
    public static let attempts = 200

    public static func layout(image: Int, height: Int, width: Int, maxRegions: Int, classes: Int, rng: inout RNG) -> [Region] {
        guard maxRegions >= 1 else { return [] }
        let m = rng.int(in: 1...maxRegions)
        let hLo = Swift.max(1, (height + 3) / 4), hHi = Swift.max(hLo, height / 2)
        let wLo = Swift.max(1, (width + 3) / 4), wHi = Swift.max(wLo, width / 2)
        var regions: [Region] = []
        for _ in 0..<m {
            let h = rng.int(in: hLo...hHi), w = rng.int(in: wLo...wHi)
            let label = rng.int(classes)
            for _ in 0..<attempts {
                let box = PixelBox(image: image, y: rng.int(in: 0...(height - h)), x: rng.int(in: 0...(width - w)), h: h, w: w)
                if !regions.contains(where: { $0.box.overlaps(box) }) { regions.append(Region(box: box, label: label)); break }
            }
        }
        return regions
    }
}

/// Soft-Label learning targets (METHOD §3): T = softmax(Z), Z = 0 except U(5, 10) + shift at the
/// relevant classes (each distinct class drawn once).
public enum SoftLabels {
    /// The paper draws U(5, 10) against ImageNet's 999 other classes. With K classes, adding
    /// ln((K − 1)/999) gives a class the same odds against the rest (`SoftLabelScale.matched`):
    /// e^(z + shift) / (e^(z + shift) + K − 1) = e^z / (e^z + 999). 0 for K ≤ 1.
    public static func matchedShift(numClasses k: Int) -> Float {
        k > 1 ? Float(Foundation.log(Double(k - 1) / 999)) : 0
    }

    /// Z rows for the given class sets. - returns (rows, numClasses)
    public static func logits(_ classSets: [[Int]], numClasses: Int, shift: Float = 0, rng: inout RNG) -> Tensor {
        let z = Tensor.zeros([classSets.count, numClasses])
        for (i, set) in classSets.enumerated() {
            var seen = Set<Int>()
            for c in set where seen.insert(c).inserted { z.ptr[i * numClasses + c] = rng.uniform(5, 10) + shift }
        }
        return z
    }

    /// softmax(Z) per row, off the tape. - z: (rows, classes)
    public static func targets(_ z: Tensor) throws -> Tensor { try noGrad { try z.softmax() } }

    /// One-hot rows for hard labels. - returns (labels.count, numClasses)
    public static func oneHot(_ labels: [Int], numClasses: Int) -> Tensor {
        let t = Tensor.zeros([labels.count, numClasses])
        for (i, l) in labels.enumerated() { t.ptr[i * numClasses + l] = 1 }
        return t
    }
}
