import Foundation
import Tensor
import Datasets

/// Supervised training of a model from scratch (how the shipped Fashion-MNIST models are made):
/// AdamW, linear warm-up then cosine decay per step, cross-entropy, random-crop + flip
/// augmentation, checkpoints after every epoch so an interrupted run resumes where it stopped.
public struct TrainingConfig: Codable, Equatable {
    public var epochs: Int = 30
    public var batchSize: Int = 128
    public var lr: Float = 1e-3
    public var minLR: Float = 1e-5
    public var weightDecay: Float = 0.05
    public var warmupEpochs: Double = 1
    public var cropPadding: Int = 2
    public var flipProbability: Double = 0.5
    public var labelSmoothing: Float = 0.1
    public var seed: UInt64 = 0
    public init() {}
}

public struct TrainingReport {
    public var epochs: [(epoch: Int, loss: Double, testTop1: Double, seconds: Double)] = []
    public var final: Accuracy?
    public var seconds: Double = 0
}

public final class Trainer {
    public let model: VisionModel
    public let config: TrainingConfig
    public let optimizer: Adam
    public private(set) var epoch = 0
    /// Batches of the current epoch already done (for resuming mid-epoch).
    public private(set) var stepInEpoch = 0
    /// Checkpoint every this many steps (and at every epoch end).
    public var checkpointEvery = 100
    /// Called with one plain line per report (progress, epoch summaries).
    public var log: (String) -> Void = { print($0) }
    /// Polled between steps; return true to stop after saving a checkpoint.
    public var shouldStop: () -> Bool = { false }

    public init(model: VisionModel, config: TrainingConfig) {
        self.model = model; self.config = config
        // Decoupled weight decay on matrices only (timm's default: no decay on biases, norms, tokens, tables).
        optimizer = Adam(model.params.tensors, lr: config.lr, weightDecay: 0, decoupled: true)
    }

    /// Parameters that get weight decay: weights with two or more dimensions.
    var decayMask: [Bool] { model.params.all.map { $0.1.rank >= 2 && !$0.0.contains("pos_embed") && !$0.0.contains("cls_token") && !$0.0.contains("relative_position") } }

    /// Writes model, optimizer state and progress atomically (one safetensors file).
    public func saveCheckpoint(_ path: String, extra: [String: String] = [:]) throws {
        let st = optimizer.state
        var tensors = model.params.all
        for (k, (n, _)) in model.params.all.enumerated() {
            tensors.append(("__adam_m__." + n, st.m[k])); tensors.append(("__adam_v__." + n, st.v[k]))
        }
        var meta = ModelFactory.checkpointMetadata(model, extra)
        meta["sardfq.training"] = String(data: try JSONEncoder().encode(config), encoding: .utf8)!
        meta["sardfq.epoch"] = String(epoch)
        meta["sardfq.step_in_epoch"] = String(stepInEpoch)
        meta["sardfq.adam_step"] = String(st.step)
        try Safetensors.write(path: path, tensors: tensors, metadata: meta)
    }

    /// Restores a checkpoint written by `saveCheckpoint` (same architecture).
    public func resume(from path: String) throws {
        let f = try Safetensors.read(path: path)
        try model.params.load(f.tensors.filter { !$0.name.hasPrefix("__") }.map { ($0.name, $0.tensor) }, file: path)
        let names = model.params.names
        let ms = try names.map { n -> Tensor in
            guard let t = f[ "__adam_m__." + n] else { throw ModelError.config("\(path): no optimizer state for \(n)") }
            return t
        }
        let vs = try names.map { n -> Tensor in
            guard let t = f["__adam_v__." + n] else { throw ModelError.config("\(path): no optimizer state for \(n)") }
            return t
        }
        try optimizer.restore(step: Int(f.metadata["sardfq.adam_step"] ?? "0") ?? 0, m: ms, v: vs)
        epoch = Int(f.metadata["sardfq.epoch"] ?? "0") ?? 0
        stepInEpoch = Int(f.metadata["sardfq.step_in_epoch"] ?? "0") ?? 0
    }

    /// Cross-entropy with label smoothing ε: targets (1−ε)·onehot + ε/C.
    func loss(_ logits: Tensor, _ labels: [Int]) throws -> Tensor {
        if config.labelSmoothing == 0 { return try Tensor.crossEntropy(logits, labels: labels) }
        let c = logits.shape[1], eps = config.labelSmoothing
        let t = Tensor.full(logits.shape, eps / Float(c))
        for (i, l) in labels.enumerated() { t.ptr[i * c + l] += 1 - eps }
        return try Tensor.softCrossEntropy(logits, targets: t)
    }

    /// Trains until `config.epochs` (continuing from `epoch`), evaluating on `test` after each
    /// epoch and checkpointing to `checkpoint` if given.
    public func run(train: ImageDataset, test: ImageDataset, checkpoint: String? = nil, evalLimit: Int? = nil) throws -> TrainingReport {
        var report = TrainingReport()
        let t0 = now()
        let stepsPerEpoch = train.count / config.batchSize
        let total = stepsPerEpoch * config.epochs, warm = Int(config.warmupEpochs * Double(stepsPerEpoch))
        let mask = decayMask
        let params = model.params.tensors
        while epoch < config.epochs {
            let te = now()
            var sum = 0.0, n = 0
            for (bi, batch) in try train.batches(size: config.batchSize, shuffle: config.seed &+ UInt64(epoch), dropLast: true).enumerated() {
                if bi < stepInEpoch { continue }  // resumed mid-epoch: same shuffle, skip what was done
                let step = epoch * stepsPerEpoch + bi
                // Augmentation draws depend only on the step, so a resumed run sees the same crops.
                var rng = RNG(seed: config.seed).derive("step", step)
                let lr = Schedule.warmupCosine(step: step, total: total, warmup: warm, baseLR: config.lr, minLR: config.minLR)
                optimizer.lr = lr
                let x = try train.augment(batch.images, padding: config.cropPadding, flipProbability: config.flipProbability, rng: &rng)
                optimizer.zeroGrad()
                let l = try loss(model.forward(x), batch.labels)
                guard l.item.isFinite else { throw ModelError.config("training diverged at epoch \(epoch + 1) step \(bi): loss \(l.item)") }
                try l.backward()
                // AdamW decay on the masked parameters, applied before the step (torch.optim.AdamW order).
                for (p, d) in zip(params, mask) where d && config.weightDecay > 0 {
                    let f = 1 - lr * config.weightDecay
                    for i in 0..<p.count { p.ptr[i] *= f }
                }
                optimizer.step()
                sum += Double(l.item); n += 1
                if bi % 100 == 0 {
                    let done = Double(step + 1) / Double(total), el = now() - t0
                    log("epoch \(epoch + 1)/\(config.epochs) step \(bi)/\(stepsPerEpoch) loss \(String(format: "%.4f", sum / Double(n))) lr \(String(format: "%.2e", lr)) elapsed \(Int(el))s")
                    _ = done
                }
                stepInEpoch = bi + 1
                if let checkpoint, stepInEpoch % checkpointEvery == 0 { try saveCheckpoint(checkpoint) }
                if shouldStop() { if let checkpoint { try saveCheckpoint(checkpoint) }; return report }
            }
            epoch += 1
            stepInEpoch = 0
            let acc = try Evaluation.accuracy(of: model, on: test, limit: evalLimit)
            let secs = now() - te
            report.epochs.append((epoch, sum / Double(max(n, 1)), acc.top1, secs))
            log("epoch \(epoch)/\(config.epochs) done: train loss \(String(format: "%.4f", sum / Double(max(n, 1)))), test \(acc), \(Int(secs)) s")
            if let checkpoint { try saveCheckpoint(checkpoint) }
        }
        report.final = try Evaluation.accuracy(of: model, on: test)
        report.seconds = now() - t0
        return report
    }
}
