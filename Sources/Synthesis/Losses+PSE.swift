import Foundation
import Tensor

extension Losses {
    /// One block's patch-similarity entropy, fused: head mean, class token dropped, row
    /// normalisation, Gram matrix (one batched GEMM) and the KDE entropy in one op, with a
    /// hand-derived VJP. Equals `kdeEntropy(patchSimilarities(a, …)).entropy`.
    /// Why fused: the composite records five ops whose backward passes each stream (B, M, M) or
    /// (B·nW, H, N, d) through memory and copies for the slice (its backward cost about 15 % of
    /// a vit-t forward+backward); fused, every per-row step runs once, the KDE sees each
    /// symmetric pair once, and the KDE's VJP comes out of its forward (docs/synthesis.md, Speed).
    ///
    /// Forward, per window w of image b (nW = 1 for ViT), rows r < M (token i = r + start):
    ///   p_r = (1/H)·Σ_h a[w, h, i, :]             (M, d)
    ///   n_r = max(‖p_r‖, 1e-8),  u_r = p_r / n_r     (M, d)
    ///   G = U·Uᵀ                                    (M, M), flattened per image to (nW·M·M)
    ///   entropy = mean_b KDE-entropy(G_b)
    /// The KDE sees the strict upper triangle of each G once, weighted 2, and its diagonal; it
    /// also gives φ = dE/d(each packed value) in the forward pass (the KDE's own VJP, fused).
    /// Backward, from φ (G is symmetric in U):
    ///   dU = (dG + dGᵀ)·U, dG + dGᵀ = 2φ at (r, c) and (c, r)   (M, d)
    ///   dp_r = (du_r − u_r·(du_r·u_r)) / n_r         (n_r > eps; else du_r / eps)
    ///   da[w, h, i, :] += dp_r / H for every head; the class-token row gets nothing.
    /// - a: (B·nW, H, N, d) → scalar (mean entropy over B)
    /// `prefixTokens`: how many leading tokens `dropClassToken` drops (2 for a distilled DeiT).
    public static func patchSimilarityEntropy(_ a: Tensor, batch: Int, dropClassToken: Bool, prefixTokens: Int = 1,
                                              points: Int = kdePoints, bandwidth: Float = kdeBandwidth) throws -> Tensor {
        guard a.rank == 4, batch > 0, a.shape[0] % batch == 0, a.shape[2] > (dropClassToken ? prefixTokens : 0) else {
            throw TensorError.shape(op: "patch_similarity_entropy", message: "expects attention outputs (B·nW, H, N, d) with B = \(batch), got \(shapeString(a.shape))")
        }
        let (bw, h, n, d) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let start = dropClassToken ? prefixTokens : 0, m = n - start
        let eps: Float = 1e-8, invH = 1 / Float(h)
        let src = a.ptr
        // U (B·nW, M, d) and the norms n_r, kept for the backward.
        let u = Tensor(uninitialized: [bw, m, d])
        let norms = Tensor(uninitialized: [bw * m])
        let up = u.ptr, np = norms.ptr
        Parallel.forRange(bw * m, grain: Swift.max(1, 4096 / Swift.max(1, h * d))) { rows in
            for row in rows {
                let w = row / m, i = row % m + start
                let ur = up + row * d
                for k in 0..<d { ur[k] = 0 }
                for hh in 0..<h {
                    let ar = src + ((w * h + hh) * n + i) * d
                    for k in 0..<d { ur[k] += ar[k] }
                }
                var ss: Float = 0
                for k in 0..<d { ur[k] *= invH; ss += ur[k] * ur[k] }
                let nr = Swift.max(ss.squareRoot(), eps)
                np[row] = nr
                for k in 0..<d { ur[k] /= nr }
            }
        }
        let gram = try noGrad { try Tensor.matmul(u, u, transB: true) }                       // (B·nW, M, M)
        // G is symmetric: the KDE sees each image's strict upper triangles once (counted twice)
        // and then its diagonals, packed per image as (nW·M(M−1)/2 | nW·M), which halves its work.
        let half = m * (m - 1) / 2, nW = bw / batch
        let packedCount = nW * (half + m), doubled = nW * half, total = nW * m * m
        let packed = Tensor(uninitialized: [batch, packedCount])
        let gp = gram.ptr, pk = packed.ptr
        Parallel.forRange(bw, grain: Swift.max(1, 16384 / (m * m))) { ws in
            for w in ws {
                let img = w / nW, wi = w % nW, gw = gp + w * m * m
                var o = pk + img * packedCount + wi * half
                for r in 0..<m { for c in (r + 1)..<Swift.max(r + 1, m) { o.pointee = gw[r * m + c]; o += 1 } }
                let diag = pk + img * packedCount + doubled + wi * m
                for r in 0..<m { diag[r] = gw[r * m + r] }
            }
        }
        guard let kde = KDEGrid(pk, count: packed.count, points: points, bandwidth: bandwidth) else {
            // Non-finite similarities give a NaN entropy (not an error), so the caller can name the loss term.
            return Tensor(scalar: .nan).record("patch_similarity_entropy", [a]) { _ in
                let ga = a.gradBuffer()
                for i in 0..<a.count { ga[i] = .nan }
            }
        }
        let density = Tensor(uninitialized: [batch, points])
        // φ = ∂E/∂(each packed value) at upstream gradient 1, (B, packedCount), computed in the
        // forward while each image's kernels are in cache (E is linear in the upstream gradient).
        let phi: Tensor? = GradMode.enabled && a.requiresGrad ? Tensor(uninitialized: [batch, packedCount]) : nil
        let ents = kde.forward(pk, batch: batch, values: packedCount, doubled: doubled, total: total, epsilon: entropyEpsilon,
                               density: density.ptr, gradient: phi?.ptr, gradScale: 1 / Double(batch))
        let out = Tensor(scalar: Float(ents.reduce(0, +) / Double(batch)))
        guard let phi else { return out }
        return out.record("patch_similarity_entropy", [a]) { [u, norms, phi] g in
            let up = u.ptr, np = norms.ptr   // the captures keep U and the norms alive until the backward
            let g0 = g[0]
            // dG + dGᵀ per window (B·nW, M, M): 2φ at (r, c) and (c, r), 2φ on the diagonal.
            let dg = Tensor(uninitialized: [bw, m, m])
            let ph = phi.ptr, dgp = dg.ptr
            Parallel.forRange(bw, grain: Swift.max(1, 16384 / (m * m))) { ws in
                for w in ws {
                    let img = w / nW, wi = w % nW, gw = dgp + w * m * m
                    var o = ph + img * packedCount + wi * half
                    for r in 0..<m {
                        for c in (r + 1)..<Swift.max(r + 1, m) { let v = 2 * g0 * o.pointee; gw[r * m + c] = v; gw[c * m + r] = v; o += 1 }
                    }
                    let diag = ph + img * packedCount + doubled + wi * m
                    for r in 0..<m { gw[r * m + r] = 2 * g0 * diag[r] }
                }
            }
            let du = try! noGrad { try Tensor.matmul(dg, u) }      // (B·nW, M, d); shapes fixed above
            let dup = du.ptr
            let (ga, acc) = a.gradDestination()
            Parallel.forRange(bw * n, grain: Swift.max(1, 4096 / Swift.max(1, h * d))) { rows in
                for row in rows {
                    let w = row / n, i = row % n
                    if i < start {
                        if !acc { for hh in 0..<h { let gr = ga + ((w * h + hh) * n + i) * d; for k in 0..<d { gr[k] = 0 } } }
                        continue
                    }
                    let r = w * m + i - start
                    let dr = dup + r * d, ur = up + r * d, nr = np[r]
                    // dp = (du − u·(du·u))/n, pre-divided by H: stored back into du's row.
                    if nr <= eps {
                        for k in 0..<d { dr[k] *= invH / nr }
                    } else {
                        var dot: Float = 0
                        for k in 0..<d { dot += dr[k] * ur[k] }
                        let c = invH / nr
                        for k in 0..<d { dr[k] = (dr[k] - ur[k] * dot) * c }
                    }
                    for hh in 0..<h {
                        let gr = ga + ((w * h + hh) * n + i) * d
                        if acc { for k in 0..<d { gr[k] += dr[k] } } else { for k in 0..<d { gr[k] = dr[k] } }
                    }
                }
            }
        }
    }
}
