// Fused multi-head attention on a fused qkv projection: the per-(item, head) products read Q, K
// and V where the qkv GEMM left them (row stride 3·D) and the context is written in merged-head
// layout (row stride D), so no split-heads or merge-heads copies are made. Each product goes to
// `mm`: below 64 k multiply-adds (Swin's 16-token windows, where a library GEMM call costs more
// than the arithmetic) a register-blocked kernel here; above, the library's single-threaded sgemm
// (the small ViTs' 65 tokens and DeiT's 197, measured with `sardfq bench attention`).
#include "ckernels.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

// Lanes below r (0 ≤ r ≤ 8) set.
static inline __m256i lanes_below(long r) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r), idx);
}

// One tile of `rows` (1..4) rows × `vecs` (1 or 2) vectors of 8 columns: C = α·A·B (+ C when
// acc), A(i, p) at A[i·ars + p·acs] (so a transposed A costs nothing: its elements are broadcast
// one by one anyway). `full` selects plain loads/stores over masked ones.
static inline __attribute__((always_inline)) void
mm_tile(int rows, int vecs, int full, long k, float alpha, const float *A, long ars, long acs, const float *B,
        long ldb, float *C, long ldc, int acc, __m256i m0, __m256i m1) {
  __m256 c[4][2];
  for (int r = 0; r < 4; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (long p = 0; p < k; p++) {
    const float *b = B + p * ldb;
    const __m256 b0 = full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
    const __m256 b1 = vecs == 1 ? b0 : full ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1);
    for (int r = 0; r < rows; r++) {
      const __m256 a = _mm256_broadcast_ss(A + r * ars + p * acs);
      c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
      if (vecs == 2) c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha);
  for (int r = 0; r < rows; r++) {
    float *d = C + r * ldc;
    for (int v = 0; v < vecs; v++) {
      __m256 x = _mm256_mul_ps(c[r][v], va);
      const __m256i mv = v ? m1 : m0;
      if (full) {
        if (acc) x = _mm256_add_ps(x, _mm256_loadu_ps(d + 8 * v));
        _mm256_storeu_ps(d + 8 * v, x);
      } else {
        if (acc) x = _mm256_add_ps(x, _mm256_maskload_ps(d + 8 * v, mv));
        _mm256_maskstore_ps(d + 8 * v, mv, x);
      }
    }
  }
}

#define MM_ROWS(VECS, FULL)                                                                          \
  do {                                                                                               \
    long i = 0;                                                                                      \
    for (; i + 4 <= m; i += 4)                                                                       \
      mm_tile(4, VECS, FULL, k, alpha, A + i * ars, ars, acs, B + j, ldb, C + i * ldc + j, ldc, acc, m0, m1); \
    for (; i < m; i++)                                                                               \
      mm_tile(1, VECS, FULL, k, alpha, A + i * ars, ars, acs, B + j, ldb, C + i * ldc + j, ldc, acc, m0, m1); \
  } while (0)

// C (m×n, row stride ldc) = α·A (m×k; A(i, p) at A[i·ars + p·acs])·B (k×n, ldb), plus C's old
// value when acc. Columns go 16 at a time; a remainder of up to 8 takes a one-vector tile.
static void mm(long m, long n, long k, float alpha, const float *A, long ars, long acs, const float *B, long ldb,
               float *C, long ldc, int acc) {
  // From 64 k multiply-adds up (ViT: 65 tokens × hd 32 and more) the library's kernel is faster.
  if (m * n * k >= (1L << 16)) {
    const int ta = acs != 1;
    ck_sgemm_1t(ta, 0, (int)m, (int)n, (int)k, alpha, A, (int)(ta ? acs : ars), B, (int)ldb, acc ? 1.0f : 0.0f, C, (int)ldc);
    return;
  }
  for (long j = 0; j < n;) {
    const long w = n - j;
    if (w >= 16) {
      const __m256i m0 = lanes_below(8), m1 = m0;
      MM_ROWS(2, 1);
      j += 16;
    } else if (w > 8) {
      const __m256i m0 = lanes_below(8), m1 = lanes_below(w - 8);
      MM_ROWS(2, 0);
      j += 16;
    } else if (w == 8) {
      const __m256i m0 = lanes_below(8), m1 = m0;
      MM_ROWS(1, 1);
      j += 8;
    } else {
      const __m256i m0 = lanes_below(w), m1 = m0;
      MM_ROWS(1, 0);
      j += 8;
    }
  }
}

// dst (cols × rows, row stride rows) = srcᵀ for src (rows × cols, row stride lds).
static void transpose(const float *src, long lds, long rows, long cols, float *dst) {
  for (long r = 0; r < rows; r++)
    for (long c = 0; c < cols; c++) dst[c * rows + r] = src[r * lds + c];
}

// C = α·A·Bᵀ (+ C when acc) for B stored (n×k, row stride ldb), e.g. K or V rows read in place:
// large products pass Bᵀ to the library as a transposed operand, small ones transpose B into
// `scratch` (k·n floats) for `mm`.
static void mm_bt(long m, long n, long k, float alpha, const float *A, long ars, long acs, const float *B, long ldb,
                  float *C, long ldc, int acc, float *scratch) {
  if (m * n * k >= (1L << 16)) {
    const int ta = acs != 1;
    ck_sgemm_1t(ta, 1, (int)m, (int)n, (int)k, alpha, A, (int)(ta ? acs : ars), B, (int)ldb, acc ? 1.0f : 0.0f, C, (int)ldc);
    return;
  }
  transpose(B, ldb, n, k, scratch);
  mm(m, n, k, alpha, A, ars, acs, scratch, n, C, ldc, acc);
}

// Items it = b·H + h in [lo, hi). qkv: (B, N, 3·H·hd); probs: (B, H, N, N); ctx: (B, N, H·hd).
// probs = softmax(scale·Q·Kᵀ + bias[h] + mask[b mod nW]); ctx = probs·V.
void ck_attention_forward(const float *qkv, const float *bias, const float *mask, long nw, float *probs,
                          float *ctx, long n, long heads, long hd, float scale, long lo, long hi) {
  const long d = heads * hd, ld = 3 * d, nn = n * n;
  float *kt = malloc((size_t)(hd * n) * sizeof(float));  // Kᵀ (hd, N)
  for (long it = lo; it < hi; it++) {
    const long b = it / heads, h = it % heads;
    const float *q = qkv + b * n * ld + h * hd, *k = q + d, *v = q + 2 * d;
    float *p = probs + it * nn;
    mm_bt(n, n, hd, scale, q, ld, 1, k, ld, p, n, 0, kt);  // scores (N, N) = scale·Q·Kᵀ
    if (bias) { const float *bh = bias + h * nn; for (long e = 0; e < nn; e++) p[e] += bh[e]; }
    if (mask) { const float *mw = mask + (b % nw) * nn; for (long e = 0; e < nn; e++) p[e] += mw[e]; }
    ck_softmax_rows(p, p, n, n);
    mm(n, hd, n, 1, p, n, 1, v, ld, ctx + b * n * d + h * hd, d, 0);  // (N, hd) into the merged row
  }
  free(kt);
}

// Backward of ctx = P·V: gprobs (+)= gctx·Vᵀ (acc_probs), and gqkv's V columns += Pᵀ·gctx.
void ck_attention_backward_context(const float *qkv, const float *probs, const float *gctx, float *gprobs,
                                   int acc_probs, float *gqkv, long n, long heads, long hd, long lo, long hi) {
  const long d = heads * hd, ld = 3 * d, nn = n * n;
  float *vt = malloc((size_t)(hd * n) * sizeof(float));  // Vᵀ (hd, N)
  for (long it = lo; it < hi; it++) {
    const long b = it / heads, h = it % heads;
    const float *v = qkv + b * n * ld + 2 * d + h * hd, *gc = gctx + b * n * d + h * hd, *p = probs + it * nn;
    if (gprobs) {
      mm_bt(n, n, hd, 1, gc, d, 1, v, ld, gprobs + it * nn, n, acc_probs, vt);  // g·Vᵀ
    }
    if (gqkv) {
      mm(n, hd, n, 1, p, 1, n, gc, d, gqkv + b * n * ld + 2 * d + h * hd, ld, 1);  // Pᵀ: A(i, p) = P[p][i]
    }
  }
  free(vt);
}

// Backward of P = softmax(scale·Q·Kᵀ + …): dS = P ⊙ (gP − rowsum(gP ⊙ P)); gqkv's Q columns
// += scale·dS·K and K columns += scale·dSᵀ·Q; dS itself is stored in gscores (B, H, N, N) when
// given (the bias gradient is its sum over items, taken by the caller).
void ck_attention_backward_probs(const float *qkv, const float *probs, const float *gprobs, float *gqkv,
                                 float *gscores, long n, long heads, long hd, float scale, long lo, long hi) {
  const long d = heads * hd, ld = 3 * d, nn = n * n;
  float *ds = malloc((size_t)nn * sizeof(float));
  for (long it = lo; it < hi; it++) {
    const long b = it / heads, h = it % heads;
    ck_softmax_backward_rows(probs + it * nn, gprobs + it * nn, ds, n, n, 0);
    if (gscores) memcpy(gscores + it * nn, ds, (size_t)nn * sizeof(float));
    if (gqkv) {
      const float *q = qkv + b * n * ld + h * hd, *k = q + d;
      float *gq = gqkv + b * n * ld + h * hd, *gk = gq + d;
      mm(n, hd, n, scale, ds, n, 1, k, ld, gq, ld, 1);
      mm(n, hd, n, scale, ds, 1, n, q, ld, gk, ld, 1);  // dSᵀ read in place
    }
  }
  free(ds);
}
