import Tensor

extension ImageDataset {
    /// Light training augmentation of a batch: random crop after zero padding by `padding` pixels
    /// on each side (torchvision `RandomCrop(size, padding)`), then a horizontal flip with
    /// probability `flipProbability` (`RandomHorizontalFlip`).
    ///
    /// `images` is `(B, C, H, W)` in this dataset's normalized space; the result has the same
    /// shape. The padding is black in pixel space, i.e. `-mean[c]/std[c]` after normalization,
    /// because torchvision pads before `Normalize`. All draws come from `rng` (per image: dy, dx,
    /// flip, in that order), so the same seed gives the same batch bit for bit.
    public func augment(_ images: Tensor, padding: Int = 2, flipProbability: Double = 0.5, rng: inout RNG) throws -> Tensor {
        guard images.rank == 4, images.shape[1] == channels else {
            throw DatasetError.argument(op: "augment", message: "expected (B, \(channels), H, W) images, got \(shapeString(images.shape))")
        }
        guard padding >= 0 else { throw DatasetError.argument(op: "augment", message: "padding must be >= 0, got \(padding)") }
        let fill = (0..<channels).map { -mean[$0] / std[$0] }
        return augmentBatch(images, padding: padding, flipProbability: flipProbability, fill: fill, rng: &rng)
    }
}

/// Random crop with constant padding plus horizontal flip, per image; see `ImageDataset.augment`.
/// `fill[c]` is the value of padded pixels in channel `c`.
public func augmentBatch(_ images: Tensor, padding p: Int, flipProbability: Double, fill: [Float], rng: inout RNG) -> Tensor {
    let b = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3]
    // Draw everything first, sequentially, so the result does not depend on thread scheduling.
    var dys = [Int](repeating: 0, count: b), dxs = dys
    var flips = [Bool](repeating: false, count: b)
    for i in 0..<b {
        dys[i] = p > 0 ? rng.int(2 * p + 1) - p : 0
        dxs[i] = p > 0 ? rng.int(2 * p + 1) - p : 0
        flips[i] = rng.bool(flipProbability)
    }
    let out = Tensor(uninitialized: images.shape)
    let src = images.ptr, dst = out.ptr
    Parallel.forEach(b) { i in
        let dy = dys[i], dx = dxs[i], flip = flips[i]
        for ch in 0..<c {
            let plane = (i * c + ch) * h * w
            let f = fill[ch]
            for y in 0..<h {
                let sy = y + dy
                let drow = dst + plane + y * w
                guard sy >= 0 && sy < h else { drow.initialize(repeating: f, count: w); continue }
                let srow = src + plane + sy * w
                for x in 0..<w {
                    // Output column x shows cropped column (flip ? w-1-x : x) of the padded image.
                    let sx = (flip ? w - 1 - x : x) + dx
                    drow[x] = (sx >= 0 && sx < w) ? srow[sx] : f
                }
            }
        }
    }
    return out
}
