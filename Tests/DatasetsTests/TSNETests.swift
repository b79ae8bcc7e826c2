import Foundation
@testable import Plot
import Testing
import Tensor

/// `k` Gaussian clusters of `per` points in `d` dimensions, centres 10σ apart on average.
private func clusters(k: Int, per: Int, d: Int, seed: UInt64) -> (Tensor, [Int]) {
    var rng = RNG(seed: seed)
    let centres = (0..<k).map { _ in (0..<d).map { _ in 10 * rng.normal() } }
    let x = Tensor.zeros([k * per, d])
    var labels: [Int] = []
    for c in 0..<k {
        for i in 0..<per {
            for j in 0..<d { x.ptr[(c * per + i) * d + j] = centres[c][j] + rng.normal() }
            labels.append(c)
        }
    }
    return (x, labels)
}

/// The fraction of points whose nearest other point in `y` (N, 2) has the same label.
private func nearestNeighbourAgreement(_ y: Tensor, _ labels: [Int]) -> Double {
    let n = labels.count, p = y.ptr
    var agree = 0
    for i in 0..<n {
        var best = -1, bestD = Float.infinity
        for j in 0..<n where j != i {
            let dx = p[2 * i] - p[2 * j], dy = p[2 * i + 1] - p[2 * j + 1]
            if dx * dx + dy * dy < bestD { bestD = dx * dx + dy * dy; best = j }
        }
        if labels[best] == labels[i] { agree += 1 }
    }
    return Double(agree) / Double(n)
}

@Suite struct TSNETests {
    @Test func separatedClustersStaySeparated() throws {
        let (x, labels) = clusters(k: 5, per: 30, d: 10, seed: 7)
        let r = try TSNE(perplexity: 20, iterations: 500, seed: 1).embed(x)
        #expect(r.embedding.shape == [150, 2])
        #expect(r.embedding.array.allSatisfy { $0.isFinite })
        #expect(nearestNeighbourAgreement(r.embedding, labels) > 0.95)
        // The map is a fit: KL well below that of the random start (log N² order).
        #expect(r.klDivergence < 1.5, "KL \(r.klDivergence)")
        // Clusters are apart: mean within-class distance is well below the mean between-class one.
        let p = r.embedding.ptr
        var within = 0.0, between = 0.0, nw = 0, nb = 0
        for i in 0..<150 { for j in (i + 1)..<150 {
            let d = Double(hypotf(p[2 * i] - p[2 * j], p[2 * i + 1] - p[2 * j + 1]))
            if labels[i] == labels[j] { within += d; nw += 1 } else { between += d; nb += 1 }
        } }
        #expect(within / Double(nw) * 3 < between / Double(nb))
    }

    @Test func sameSeedSameMapOtherSeedOtherMap() throws {
        let (x, _) = clusters(k: 3, per: 10, d: 6, seed: 2)
        let a = try TSNE(perplexity: 8, iterations: 200, seed: 4).embed(x).embedding.array
        let b = try TSNE(perplexity: 8, iterations: 200, seed: 4).embed(x).embedding.array
        let c = try TSNE(perplexity: 8, iterations: 200, seed: 5).embed(x).embedding.array
        #expect(a == b, "bit for bit")
        #expect(a != c)
    }

    @Test func perplexityIsCalibrated() throws {
        // Every conditional P(·|i) has exp(entropy) = the requested perplexity; the joint P is
        // symmetric and sums to 1.
        let (x, _) = clusters(k: 2, per: 15, d: 4, seed: 3)
        let t = TSNE(perplexity: 10, iterations: 1, seed: 0)
        let cond = t.conditionalProbabilities(x.ptr, n: 30, d: 4)
        for i in 0..<30 {
            let row = cond[(i * 30)..<(i * 30 + 30)]
            let h = -row.filter { $0 > 0 }.map { $0 * log($0) }.reduce(0, +)
            #expect(abs(row.reduce(0, +) - 1) < 1e-9)
            #expect(abs(exp(h) - 10) < 1e-3, "row \(i): perplexity \(exp(h))")
        }
        let p = t.jointProbabilities(x.ptr, n: 30, d: 4)
        #expect(abs(p.reduce(0, +) - 1) < 1e-6)
        for i in 0..<30 { for j in 0..<30 where i != j { #expect(abs(p[i * 30 + j] - p[j * 30 + i]) < 1e-15) } }
    }

    @Test func badInputIsAnError() throws {
        let (x, _) = clusters(k: 2, per: 5, d: 3, seed: 1)
        #expect(throws: PlotError.parameter(op: "tsne", name: "perplexity", message: "perplexity must be at least 1 and below the number of points minus one (9), got 10.0")) {
            try TSNE(perplexity: 10, iterations: 10).embed(x)
        }
        #expect(throws: PlotError.self) { try TSNE(perplexity: 0.5, iterations: 10).embed(x) }
        #expect(throws: PlotError.self) { try TSNE(perplexity: 3, iterations: 0).embed(x) }
        #expect(throws: PlotError.self) { try TSNE(perplexity: 1).embed(Tensor.zeros([4])) }
        x.ptr[7] = .nan
        #expect(throws: PlotError.parameter(op: "tsne", name: "features", message: "features contain NaN at row 2, column 1")) {
            try TSNE(perplexity: 3, iterations: 10).embed(x)
        }
        x.ptr[7] = .infinity
        #expect(throws: PlotError.parameter(op: "tsne", name: "features", message: "features contain an infinite value at row 2, column 1")) {
            try TSNE(perplexity: 3, iterations: 10).embed(x)
        }
    }

    @Test func identicalPointsDoNotBreakTheSearch() throws {
        // Duplicates (distance 0) and a constant direction must still give a finite map.
        let x = Tensor.zeros([12, 3])
        for i in 6..<12 { x.ptr[i * 3] = 5 }
        let y = try TSNE(perplexity: 3, iterations: 100, seed: 0).embed(x).embedding
        #expect(y.array.allSatisfy { $0.isFinite })
    }
}
