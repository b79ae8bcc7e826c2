import Foundation
import Tensor

/// timm's evaluation preprocessing (`timm.data.create_transform(is_training=False)`, crop mode
/// "center"):
///
/// 1. `Resize(floor(size / cropPct), interpolation)`: the short side becomes
///    `floor(size / cropPct)`, the long side `int(short' * long / short)` (torchvision's rule),
///    with Pillow-compatible antialiased resampling (`Resample`);
/// 2. `CenterCrop(size)`: offsets `round((H - size) / 2)` with Python's round-half-to-even,
///    black padding if the image is smaller than the crop;
/// 3. `ToTensor` (`/255`) and `Normalize(mean, std)`.
public struct EvalTransform: Equatable {
    /// Output (crop) side in pixels.
    public var size: Int
    public var cropPct: Double
    public var interpolation: ResampleFilter
    public var mean: [Float]
    public var std: [Float]

    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    public init(size: Int, cropPct: Double = 0.875, interpolation: ResampleFilter = .bicubic,
                mean: [Float] = EvalTransform.imagenetMean, std: [Float] = EvalTransform.imagenetStd) throws {
        guard size > 0 else { throw DatasetError.argument(op: "EvalTransform", message: "size must be positive, got \(size)") }
        guard cropPct > 0, cropPct <= 4 else {
            throw DatasetError.argument(op: "EvalTransform", message: "crop_pct must be in (0, 4], got \(cropPct)")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw DatasetError.argument(op: "EvalTransform", message: "mean and std need 3 entries with std > 0 (RGB)")
        }
        self.size = size
        self.cropPct = cropPct
        self.interpolation = interpolation
        self.mean = mean
        self.std = std
    }

    /// DeiT/ViT defaults: 224 px, crop_pct 0.875, bicubic, ImageNet mean/std.
    public static let imagenet224 = try! EvalTransform(size: 224)

    /// Short side after the resize: `floor(size / crop_pct)` (timm's `scale_size`).
    public var scaleSize: Int { Int((Double(size) / cropPct).rounded(.down)) }

    /// The resize target `(width, height)` for an image, by torchvision's `Resize(int)` rule.
    public func resizedSize(width w: Int, height h: Int) -> (width: Int, height: Int) {
        let s = scaleSize
        if w <= h {
            return (s, Int(Double(s) * Double(h) / Double(w)))
        } else {
            return (Int(Double(s) * Double(w) / Double(h)), s)
        }
    }

    /// Steps 1–2 in uint8, exactly like Pillow + torchvision (the conformance tests use this).
    public func resizeAndCrop(_ image: RGBImage) throws -> RGBImage {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        let resized = try Resample.resize(image, width: rw, height: rh, filter: interpolation)
        // torchvision: int(round((H - crop) / 2.0)), round half to even; padding when negative.
        let top = Int((Double(rh - size) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(rw - size) / 2).rounded(.toNearestOrEven))
        if rh >= size && rw >= size {
            return try resized.crop(x: left, y: top, width: size, height: size)
        }
        // torchvision pads (left, top) by (crop - W) // 2 and then crops the padded image.
        let padL = rw < size ? (size - rw) / 2 : 0, padT = rh < size ? (size - rh) / 2 : 0
        let pw = rw + (rw < size ? size - rw : 0), ph = rh + (rh < size ? size - rh : 0)
        let t2 = Int((Double(ph - size) / 2).rounded(.toNearestOrEven))
        let l2 = Int((Double(pw - size) / 2).rounded(.toNearestOrEven))
        return try resized.crop(x: l2 - padL, y: t2 - padT, width: size, height: size)
    }

    /// The full transform into `dst`, a `(3, size, size)` block of floats.
    public func apply(_ image: RGBImage, into dst: UnsafeMutablePointer<Float>) throws {
        let img = try resizeAndCrop(image)
        let plane = size * size
        img.pixels.withUnsafeBufferPointer { px in
            for c in 0..<3 {
                let m = mean[c], s = std[c]
                let d = dst + c * plane
                for i in 0..<plane { d[i] = (Float(px[i * 3 + c]) / 255 - m) / s }
            }
        }
    }

    /// The full transform of one image: `(3, size, size)`.
    public func apply(_ image: RGBImage) throws -> Tensor {
        let t = Tensor(uninitialized: [3, size, size])
        try apply(image, into: t.ptr)
        return t
    }
}
