import Tensor
import Models

/// What block reconstruction did to one block.
public struct BlockReconstruction: Sendable {
    public let block: String
    /// Trained parameter names (linear weights and biases of the block).
    public let parameters: [String]
    /// MSE of the quantized block's output against the float block's output, before and after.
    public let before: Float, after: Float
    public let seconds: Double
}

extension QuantizedModel {
    /// Block reconstruction (METHOD §4): for each block in order, the float model's block output
    /// on `images` is the target and this model's own input to that block (after the blocks
    /// before it were reconstructed) is the input; Adam minimizes the mean squared error, with a
    /// cosine learning rate decaying to 0, through straight-through rounding. Only the block's
    /// linear weights and biases train (qkv, proj, fc1, fc2, and for Swin the patch-merging
    /// reduction that opens a stage); quantizer scales, LayerNorms and position tables are frozen.
    /// - reference: the float model this one was quantized from (same architecture).
    /// - images: (B, C, H, W), normally the calibration images.
    public func reconstruct(reference: VisionModel, images: Tensor, config rc: ReconstructionConfig = ReconstructionConfig()) throws {
        guard reference.architecture == architecture else {
            throw QuantError.argument("reconstruct: the reference model's architecture differs from the quantized model's")
        }
        guard hooks.quantizers.values.allSatisfy(\.isCalibrated), !hooks.quantizers.isEmpty else {
            throw QuantError.argument("reconstruct: calibrate the model first")
        }
        let t0 = now()
        let n = images.shape[0]
        let targets = try noGrad { try reference.forward(images, capture: .blockIO, hooks: nil).blockOutputs }
        var xin = try noGrad { try forward(images, capture: .blockIO, hooks: nil).blockInputs[0] }
        var rng = RNG(seed: rc.seed)
        let batch = Swift.min(rc.batchSize ?? n, n)
        for (i, name) in blockNames.enumerated() {
            let tb = now()
            let names = trainableParameters(block: i)
            let ps = names.map { params[$0] }
            let target = targets[i]
            func loss(_ x: Tensor, _ t: Tensor) throws -> Tensor { try (forwardBlock(i, x, hooks: nil) - t).pow(2).mean() }
            let before = try noGrad { try loss(xin, target).item }
            for p in ps { p.requiresGrad = true }
            defer { for p in ps { p.requiresGrad = false; p.zeroGrad() } }
            let opt = Adam(ps, lr: rc.lr)
            for t in 0..<rc.iterations {
                try Interruption.check("reconstruct")
                opt.lr = Schedule.cosine(step: t, total: rc.iterations, baseLR: rc.lr)
                var xb = xin, yb = target
                if batch < n {
                    let idx = Array(rng.permutation(n).prefix(batch))
                    xb = try xin.indexSelect(axis: 0, indices: idx); yb = try target.indexSelect(axis: 0, indices: idx)
                }
                opt.zeroGrad()
                let l = try loss(xb, yb)
                try l.backward()
                opt.step()
            }
            let after = try noGrad { try loss(xin, target).item }
            xin = try noGrad { try forwardBlock(i, xin, hooks: nil) }
            let rec = BlockReconstruction(block: name, parameters: names, before: before, after: after, seconds: now() - tb)
            reconstruction.append(rec)
            log?("reconstruct \(name): mse \(formatFloat(before)) → \(formatFloat(after)) (\(rc.iterations) it, \(String(format: "%.1f", rec.seconds)) s)")
        }
        reconstructionSeconds += now() - t0
    }

    /// Names of the linear weights and biases that block `i` trains: its qkv, proj, fc1, fc2
    /// and, for the first block of a Swin stage after the first, the stage's patch-merging reduction.
    public func trainableParameters(block i: Int) -> [String] {
        let name = blockNames[i]
        let linears = ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"].map { name + "." + $0 }
        var prefixes = linears
        if name.hasPrefix("layers."), name.hasSuffix(".blocks.0") {
            prefixes.append(String(name.dropLast(".blocks.0".count)) + ".downsample.reduction")
        }
        return params.names.filter { n in
            prefixes.contains { n == $0 + ".weight" || n == $0 + ".bias" }
        }
    }
}
