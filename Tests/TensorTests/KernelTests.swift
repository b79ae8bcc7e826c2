import Foundation
import Testing
import CKernels
@testable import Tensor

/// The vectorised C row kernels against plain Double references, on row lengths with and
/// without a masked tail, and the buffer cache's reuse.
@Suite("vector kernels vs references")
struct KernelTests {
    static let rowLengths = [1, 7, 8, 13, 64, 197]

    @Test(arguments: rowLengths)
    func softmaxMatchesReference(_ d: Int) throws {
        let x = randn([5, d], seed: UInt64(d)) * 30  // wide range: many exps underflow
        let y = try x.softmax()
        for r in 0..<5 {
            let row = (0..<d).map { Double(x[r, $0]) }
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<d { #expect(Swift.abs(Double(y[r, j]) - e[j] / s) < 1e-6, "row \(r) col \(j)") }
        }
    }

    @Test(arguments: rowLengths)
    func softmaxBackwardMatchesReference(_ d: Int) throws {
        let x = randn([4, d], seed: 100 + UInt64(d)), g = randn([4, d], seed: 200 + UInt64(d))
        x.requiresGrad = true
        let y = try x.softmax()
        try y.backward(seed: g)
        let gx = try #require(x.grad)
        for r in 0..<4 {
            let dot = (0..<d).reduce(0.0) { $0 + Double(g[r, $1]) * Double(y[r, $1]) }
            for j in 0..<d {
                let ref = Double(y[r, j]) * (Double(g[r, j]) - dot)
                #expect(Swift.abs(Double(gx[r, j]) - ref) < 1e-5, "row \(r) col \(j)")
            }
        }
    }

    @Test(arguments: [1, 7, 8, 13, 1000])
    func geluForwardAndBackwardMatchReference(_ n: Int) throws {
        let x = randn([n], seed: 300 + UInt64(n)) * 3, g = randn([n], seed: 400 + UInt64(n))
        x.requiresGrad = true
        let y = x.gelu()
        try y.backward(seed: g)
        let gx = try #require(x.grad)
        for i in 0..<n {
            let v = Double(x.ptr[i])
            let cdf = 0.5 * (1 + erf(v / 2.0.squareRoot()))
            let pdf = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            #expect(Swift.abs(Double(y.ptr[i]) - v * cdf) < 1e-5 * Swift.max(1, Swift.abs(v)), "gelu at \(v)")
            #expect(Swift.abs(Double(gx.ptr[i]) - Double(g.ptr[i]) * (cdf + v * pdf)) < 1e-5, "gelu' at \(v)")
        }
    }

    @Test(arguments: rowLengths.filter { $0 > 1 })
    func layerNormBackwardMatchesReference(_ d: Int) throws {
        let rows = 3
        let x = randn([rows, d], seed: 500 + UInt64(d)), g = randn([rows, d], seed: 600 + UInt64(d))
        let w = randn([d], seed: 700 + UInt64(d)), b = randn([d], seed: 800 + UInt64(d))
        for t in [x, w, b] { t.requiresGrad = true }
        let eps = 1e-5
        try x.layerNorm(weight: w, bias: b, eps: Float(eps)).backward(seed: g)
        let gx = try #require(x.grad), gw = try #require(w.grad), gb = try #require(b.grad)
        var dw = [Double](repeating: 0, count: d), db = dw
        for r in 0..<rows {
            let xs = (0..<d).map { Double(x[r, $0]) }
            let mu = xs.reduce(0, +) / Double(d)
            let rs = 1 / (xs.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(d) + eps).squareRoot()
            let xh = xs.map { ($0 - mu) * rs }
            let gh = (0..<d).map { Double(g[r, $0]) * Double(w.ptr[$0]) }
            let mg = gh.reduce(0, +) / Double(d)
            let mgx = zip(gh, xh).map { $0 * $1 }.reduce(0, +) / Double(d)
            for j in 0..<d {
                let ref = rs * (gh[j] - mg - xh[j] * mgx)
                #expect(Swift.abs(Double(gx[r, j]) - ref) < 1e-4 * Swift.max(1, Swift.abs(ref)), "dx row \(r) col \(j)")
                dw[j] += Double(g[r, j]) * xh[j]
                db[j] += Double(g[r, j])
            }
        }
        for j in 0..<d {
            #expect(Swift.abs(Double(gw.ptr[j]) - dw[j]) < 1e-4, "dγ[\(j)]")
            #expect(Swift.abs(Double(gb.ptr[j]) - db[j]) < 1e-4, "dβ[\(j)]")
        }
    }

    /// Products big enough to be split over the workers (by rows when C is taller than wide,
    /// by columns otherwise), in every transpose combination, against a Double reference.
    @Test(arguments: [(300, 70, 60), (70, 300, 60)])
    func splitGemmMatchesReference(_ dims: (Int, Int, Int)) throws {
        let (m, n, k) = dims
        #expect(m * n * k >= Tensor.gemmSplitAbove)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randn(ta ? [k, m] : [m, k], seed: 1000), b = randn(tb ? [n, k] : [k, n], seed: 1001)
            let c = try Tensor.matmul(a, b, transA: ta, transB: tb, alpha: 0.5)
            var worst = 0.0
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(ta ? a[p, i] : a[i, p]) * Double(tb ? b[j, p] : b[p, j]) }
                worst = Swift.max(worst, Swift.abs(0.5 * s - Double(c[i, j])))
            } }
            #expect(worst < 1e-3, "transA \(ta) transB \(tb): max error \(worst)")
        }
    }

    @Test func splitHeadsMatchesPermuteAndSlices() throws {
        let (b, n, h, hd) = (2, 5, 3, 4)
        let x = randn([b, n, 3 * h * hd], seed: 900)
        let parts = try x.splitHeads(parts: 3, heads: h)
        let qkv = try x.reshape([b, n, 3, h, hd]).permute([2, 0, 3, 1, 4])
        for p in 0..<3 {
            let ref = try qkv.slice(axis: 0, start: p, end: p + 1).reshape([b, h, n, hd])
            #expect(parts[p].shape == [b, h, n, hd])
            #expect(parts[p].array == ref.array, "part \(p)")
        }
        #expect(throws: TensorError.self) { try x.splitHeads(parts: 3, heads: 5) }
    }

    @Test func bufferCacheReusesFreedBlocksOfTheSameSizeClass() {
        // An odd size class (about 37 MiB) that no other test allocates concurrently.
        let bytes = 37 * (1 << 20) + 12_345
        let cls = ck_buffer_size_class(bytes)
        #expect(cls >= bytes && cls - bytes <= bytes / 8)
        let p = ck_buffer_alloc(bytes)!
        #expect(Int(bitPattern: p) % 64 == 0)
        ck_buffer_free(p, bytes)
        #expect(ck_buffer_cached_bytes() >= cls)
        let q = ck_buffer_alloc(bytes - 1000)!  // same class: the cached block comes back
        #expect(q == p)
        ck_buffer_free(q, bytes - 1000)
        #expect(ck_buffer_cached_bytes() <= 3 << 30)
    }
}
