/// A rectangle of whole pixels inside an image: rows y..<y+h, columns x..<x+w of image `image`.
public struct PixelBox: Equatable, Hashable, CustomStringConvertible {
    public var image: Int, y: Int, x: Int, h: Int, w: Int
    public init(image: Int, y: Int, x: Int, h: Int, w: Int) { self.image = image; self.y = y; self.x = x; self.h = h; self.w = w }
    public var description: String { "box(img \(image): y \(y), x \(x), \(h)×\(w))" }
    /// True when the two boxes share at least one pixel (same image only).
    public func overlaps(_ o: PixelBox) -> Bool {
        image == o.image && y < o.y + o.h && o.y < y + h && x < o.x + o.w && o.x < x + w
    }
}

extension Tensor {
    /// Source coordinate and weights of bilinear resampling from `inSize` to `outSize`, exactly as
    /// PyTorch's `F.interpolate(mode="bilinear", align_corners=False)` (negative sources clamp to 0).
    static func bilinearTaps(_ inSize: Int, _ outSize: Int) -> [(Int, Int, Float)] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { o in
            let src = Swift.max((Float(o) + 0.5) * scale - 0.5, 0)
            let i0 = Swift.min(Int(src), inSize - 1)
            let i1 = Swift.min(i0 + 1, inSize - 1)
            return (i0, i1, src - Float(i0))
        }
    }

    /// Crops each box and resizes it bilinearly to `outH × outW` (MSR's crop-and-resize).
    /// Differentiable: the gradient flows back into the cropped pixels only.
    /// - self: (B, C, H, W) → (boxes.count, C, outH, outW)
    public func cropResize(boxes: [PixelBox], outH: Int, outW: Int) throws -> Tensor {
        guard rank == 4 else { throw TensorError.shape(op: "crop_resize", message: "expects (B, C, H, W), got \(shapeString(shape))") }
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        for bx in boxes where bx.image < 0 || bx.image >= b || bx.y < 0 || bx.x < 0 || bx.h < 1 || bx.w < 1 || bx.y + bx.h > h || bx.x + bx.w > w {
            throw TensorError.argument(op: "crop_resize", message: "\(bx) lies outside the \(b) images of \(h)×\(w)")
        }
        guard outH > 0, outW > 0 else { throw TensorError.argument(op: "crop_resize", message: "output size \(outH)×\(outW) must be positive") }
        let out = Tensor(uninitialized: [boxes.count, c, outH, outW])
        let taps = boxes.map { (Tensor.bilinearTaps($0.h, outH), Tensor.bilinearTaps($0.w, outW)) }
        let x = ptr, y = out.ptr
        Parallel.forEach(boxes.count * c) { item in
            let k = item / c, ch = item % c, bx = boxes[k]
            let (ty, tx) = taps[k]
            let src = x + ((bx.image * c + ch) * h + bx.y) * w + bx.x
            let dst = y + item * outH * outW
            for oy in 0..<outH {
                let (y0, y1, ly) = ty[oy]
                let r0 = src + y0 * w, r1 = src + y1 * w
                for ox in 0..<outW {
                    let (x0, x1, lx) = tx[ox]
                    let top = r0[x0] + (r0[x1] - r0[x0]) * lx
                    let bot = r1[x0] + (r1[x1] - r1[x0]) * lx
                    dst[oy * outW + ox] = top + (bot - top) * ly
                }
            }
        }
        return out.record("crop_resize", [self]) { [self] g in
            guard self.requiresGrad else { return }
            let gx = self.gradBuffer()
            // Serial over boxes: two boxes of one image may share pixels.
            for item in 0..<(boxes.count * c) {
                let k = item / c, ch = item % c, bx = boxes[k]
                let (ty, tx) = taps[k]
                let dst = gx + ((bx.image * c + ch) * h + bx.y) * w + bx.x
                let gi = g + item * outH * outW
                for oy in 0..<outH {
                    let (y0, y1, ly) = ty[oy]
                    for ox in 0..<outW {
                        let (x0, x1, lx) = tx[ox]
                        let v = gi[oy * outW + ox]
                        dst[y0 * w + x0] += v * (1 - ly) * (1 - lx)
                        dst[y0 * w + x1] += v * (1 - ly) * lx
                        dst[y1 * w + x0] += v * ly * (1 - lx)
                        dst[y1 * w + x1] += v * ly * lx
                    }
                }
            }
        }
    }
}
