// Integer execution of a quantized model's attention (docs/quantization.md, "Integer execution"):
// Q, K and V go to their uniform levels straight from the qkv projection's output, Q·Kᵀ is one
// u8·s8 → s32 product per (item, head), the softmax stays in float, the probabilities go to their
// log√2 levels, and P·V is an integer product too when those levels are shifts that fit a byte
// (≤ 4 bits); wider log√2 levels reach 2^−127 and are multiplied in float. Single-threaded per
// call: callers split the items across the pool.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "ckernels.h"

extern void omp_set_num_threads(int);

// Levels of rows × cols elements of x (row stride ldx): l = clamp(round_half_even(x/Δ) + z, 0,
// qmax) − o, the fake quantizer's level minus an offset (o = 2^(b−1) makes 8-bit levels fit s8).
// rowsum[r] = Σ of row r's stored values. x·(1/Δ) instead of x/Δ: the two round differently only
// within an ulp of a half-integer, where the level may differ by one.
static void levels_s8(const float *x, long ldx, long rows, long cols, float s, float z, float qmax, float o,
                      int8_t *out, int32_t *rowsum) {
  const float inv = 1.0f / s;
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    int8_t *orow = out + r * cols;
    int32_t sum = 0;
    for (long c = 0; c < cols; c++) {
      float v = rintf(xr[c] * inv) + z;
      v = v < 0 ? 0 : (v > qmax ? qmax : v);
      const int8_t t = (int8_t)(v - o);
      orow[c] = t;
      sum += t;
    }
    rowsum[r] = sum;
  }
}

static void levels_u8(const float *x, long ldx, long rows, long cols, float s, float z, float qmax, uint8_t *out,
                      int32_t *rowsum) {
  const float inv = 1.0f / s;
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * ldx;
    uint8_t *orow = out + r * cols;
    int32_t sum = 0;
    for (long c = 0; c < cols; c++) {
      float v = rintf(xr[c] * inv) + z;
      v = v < 0 ? 0 : (v > qmax ? qmax : v);
      orow[c] = (uint8_t)v;
      sum += (int32_t)v;
    }
    rowsum[r] = sum;
  }
}

// The log√2 level of v = p/Δ as LogQuantizer.sqrt2Quant computes it: round(−2·log2(v)) from the
// float's exponent and mantissa (t1, t3: the mantissa fields of 2^0.25 and 2^0.75), clamped below
// at 0; nl (the zero level) for v ≤ 0, NaN, or a level ≥ nl. Scalar form, for subnormal v.
static int sqrt2_level(float v, int nl, uint32_t t1, uint32_t t3) {
  if (!(v > 0)) return nl;
  uint32_t bits;
  memcpy(&bits, &v, 4);
  const int e = (int)((bits >> 23) & 0xff);
  int l;
  if (e == 0) {
    int ex;  // v = m·2^ex, m ∈ [1, 2)
    const double m = frexp((double)v, &ex) * 2.0;
    ex -= 1;
    l = -2 * ex - (m < 1.189207115002721 ? 0 : (m < 1.681792830507429 ? 1 : 2));
  } else {
    const uint32_t frac = bits & 0x7fffff;
    l = -2 * (e - 127) - (frac < t1 ? 0 : (frac < t3 ? 1 : 2));
  }
  if (l >= nl) return nl;
  return l < 0 ? 0 : l;
}

// Eight levels at once: p·(1/Δ) (as x·(1/Δ) above), then the scalar rule's bit arithmetic.
static inline __m256i sqrt2_levels8(__m256 p, __m256 inv, int nl, uint32_t t1, uint32_t t3) {
  const __m256 v = _mm256_mul_ps(p, inv);
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i e = _mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff));
  const __m256i frac = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff));
  // k = [frac ≥ t1] + [frac ≥ t3] (the compares give −1 for true); l = 254 − 2e − k.
  const __m256i k = _mm256_add_epi32(_mm256_cmpgt_epi32(frac, _mm256_set1_epi32((int)t1 - 1)),
                                     _mm256_cmpgt_epi32(frac, _mm256_set1_epi32((int)t3 - 1)));
  __m256i l = _mm256_add_epi32(_mm256_sub_epi32(_mm256_set1_epi32(254), _mm256_slli_epi32(e, 1)), k);
  const __m256i vnl = _mm256_set1_epi32(nl);
  l = _mm256_min_epi32(_mm256_max_epi32(l, _mm256_setzero_si256()), vnl);
  const __m256 positive = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
  l = _mm256_blendv_epi8(vnl, l, _mm256_castps_si256(positive));
  const __m256i subnormal = _mm256_and_si256(_mm256_cmpeq_epi32(e, _mm256_setzero_si256()), _mm256_castps_si256(positive));
  if (__builtin_expect(!_mm256_testz_si256(subnormal, subnormal), 0)) {
    float vs[8];
    int ls[8];
    _mm256_storeu_ps(vs, v);
    _mm256_storeu_si256((__m256i *)ls, l);
    for (int i = 0; i < 8; i++) if (ls[i] < nl && vs[i] > 0 && vs[i] < 1.17549435e-38f) ls[i] = sqrt2_level(vs[i], nl, t1, t3);
    l = _mm256_loadu_si256((const __m256i *)ls);
  }
  return l;
}

// Rows × cols probabilities to their shift matrices (≤ 4-bit log√2: nl ≤ 16): even level l gives
// even = 128 >> l/2, odd l gives odd = 128 >> (l − 1)/2, the other 0 (the zero level nl shifts
// 128 out at 4 bits and is masked below). esum, osum: row sums.
static void sqrt2_shifts(const float *p, long rows, long cols, float delta, int nl, uint32_t t1, uint32_t t3,
                         uint8_t *even, uint8_t *odd, int32_t *esum, int32_t *osum) {
  const __m256 inv = _mm256_set1_ps(1.0f / delta);
  const __m256i one = _mm256_set1_epi32(1), v128 = _mm256_set1_epi32(128), zero = _mm256_setzero_si256();
  const __m256i vnl = _mm256_set1_epi32(nl);
  const long body = cols & ~7L;
  for (long i = 0; i < rows; i++) {
    const float *pr = p + i * cols;
    uint8_t *er = even + i * cols, *orow = odd + i * cols;
    __m256i se = zero, so = zero;
    for (long j = 0; j < body; j += 8) {
      const __m256i l = sqrt2_levels8(_mm256_loadu_ps(pr + j), inv, nl, t1, t3);
      const __m256i isodd = _mm256_cmpeq_epi32(_mm256_and_si256(l, one), one);
      const __m256i live = _mm256_cmpgt_epi32(vnl, l);                         // not the zero level
      const __m256i sh = _mm256_and_si256(live, _mm256_srlv_epi32(v128, _mm256_srli_epi32(l, 1)));  // 128 >> ⌊l/2⌋
      const __m256i e = _mm256_andnot_si256(isodd, sh), o = _mm256_and_si256(isodd, sh);
      se = _mm256_add_epi32(se, e); so = _mm256_add_epi32(so, o);
      // 8 × s32 (each ≤ 128) → 8 bytes.
      const __m128i e16 = _mm_packus_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1));
      const __m128i o16 = _mm_packus_epi32(_mm256_castsi256_si128(o), _mm256_extracti128_si256(o, 1));
      _mm_storel_epi64((__m128i *)(er + j), _mm_packus_epi16(e16, e16));
      _mm_storel_epi64((__m128i *)(orow + j), _mm_packus_epi16(o16, o16));
    }
    int32_t ts[8], tse = 0, tso = 0;
    _mm256_storeu_si256((__m256i *)ts, se);
    for (int q = 0; q < 8; q++) tse += ts[q];
    _mm256_storeu_si256((__m256i *)ts, so);
    for (int q = 0; q < 8; q++) tso += ts[q];
    for (long j = body; j < cols; j++) {
      const int l = sqrt2_level(pr[j] * (1.0f / delta), nl, t1, t3);
      const uint8_t sh = l < nl ? (uint8_t)(128 >> (l >> 1)) : 0;
      er[j] = (l & 1) ? 0 : sh; orow[j] = (l & 1) ? sh : 0;
      tse += er[j]; tso += orow[j];
    }
    esum[i] = tse; osum[i] = tso;
  }
}

// n probabilities to their fake-quant values in place: table[l]·Δ, 0 at the zero level (table has
// nl + 1 entries, the last 0).
static void sqrt2_values(float *p, long n, float delta, int nl, uint32_t t1, uint32_t t3, const float *table) {
  const __m256 inv = _mm256_set1_ps(1.0f / delta), vd = _mm256_set1_ps(delta);
  const long body = n & ~7L;
  for (long j = 0; j < body; j += 8) {
    const __m256i l = sqrt2_levels8(_mm256_loadu_ps(p + j), inv, nl, t1, t3);
    _mm256_storeu_ps(p + j, _mm256_mul_ps(_mm256_i32gather_ps(table, l, 4), vd));
  }
  for (long j = body; j < n; j++) p[j] = table[sqrt2_level(p[j] * (1.0f / delta), nl, t1, t3)] * delta;
}

// c (m, 8·vecs) = a (m, k) · b (k, 8·vecs) in float with each row's sums in registers; `vecs` is
// a constant at every call, so the loops unroll.
static inline __attribute__((always_inline)) void small_rows(const int vecs, long m, long k, const float *a, const float *b,
                                                             int32_t *c) {
  const long n = 8 * vecs;
  for (long i = 0; i < m; i++) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (long p = 0; p < k; p++) {
      const __m256 av = _mm256_broadcast_ss(a + i * k + p);
      const float *bp = b + p * n;
      acc0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp), acc0);
      if (vecs > 1) acc1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp + 8), acc1);
      if (vecs > 2) acc2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp + 16), acc2);
      if (vecs > 3) acc3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(bp + 24), acc3);
    }
    int32_t *ci = c + i * n;
    _mm256_storeu_si256((__m256i *)ci, _mm256_cvtps_epi32(acc0));
    if (vecs > 1) _mm256_storeu_si256((__m256i *)(ci + 8), _mm256_cvtps_epi32(acc1));
    if (vecs > 2) _mm256_storeu_si256((__m256i *)(ci + 16), _mm256_cvtps_epi32(acc2));
    if (vecs > 3) _mm256_storeu_si256((__m256i *)(ci + 24), _mm256_cvtps_epi32(acc3));
  }
}

static int gemm_u8s8(char tb, long m, long n, long k, const uint8_t *a, long lda, const int8_t *b, long ldb, int32_t *c) {
  if (m * n * k < 65536 && k < 512) {
    // Small products (Swin's 16-token windows), where a library call costs more than the
    // arithmetic: in float FMAs, which are exact here (|Σ| ≤ k·255·128 < 2^24).
    float *af = ck_scratch(CK_SCRATCH_SMALL_PRODUCT + 0, (size_t)(m * k) * 4), *bf = ck_scratch(CK_SCRATCH_SMALL_PRODUCT + 1, (size_t)(k * n) * 4), *cf = ck_scratch(CK_SCRATCH_SMALL_PRODUCT + 2, (size_t)(m * n) * 4);
    if (!af || !bf || !cf) return -1;
    for (long i = 0; i < m; i++) for (long p = 0; p < k; p++) af[i * k + p] = (float)a[i * lda + p];
    if (tb == 'T') { for (long j = 0; j < n; j++) for (long p = 0; p < k; p++) bf[p * n + j] = (float)b[j * ldb + p]; }
    else { for (long p = 0; p < k; p++) for (long j = 0; j < n; j++) bf[p * n + j] = (float)b[p * ldb + j]; }
    if (n % 8 == 0 && n <= 32) {
      switch (n / 8) {
        case 1: small_rows(1, m, k, af, bf, c); break;
        case 2: small_rows(2, m, k, af, bf, c); break;
        case 3: small_rows(3, m, k, af, bf, c); break;
        default: small_rows(4, m, k, af, bf, c); break;
      }
      return 0;
    }
    for (long i = 0; i < m; i++) {
      float *ci = cf + i * n;
      for (long j = 0; j < n; j++) ci[j] = 0;
      for (long p = 0; p < k; p++) {
        const float av = af[i * k + p];
        const float *bp = bf + p * n;
        for (long j = 0; j < n; j++) ci[j] += av * bp[j];
      }
      for (long j = 0; j < n; j++) c[i * n + j] = (int32_t)ci[j];
    }
    return 0;
  }
  return ck_gemm_u8s8s32(tb, m, n, k, a, lda, b, ldb, c);
}

int ck_int8_attention_forward(const float *qkv, const float *bias, const float *mask, long nw, float *ctx, long n,
                              long heads, long hd, float scale, const ck_int8_attention_quant *qz, long lo, long hi,
                              long b0) {
  const long d = heads * hd, ld = 3 * d, nn = n * n;
  const int nl = 1 << qz->pbits, shifts = qz->pbits <= 4;
  // Scratch: Q levels (N, hd) u8, K and V levels − o (N, hd) s8, their row sums, scores (N, N)
  // s32 and float, the probabilities' even and odd shift matrices (N, N) u8, P·V (N, hd) s32 × 2.
  uint8_t *qu = ck_scratch(CK_SCRATCH_ATTENTION + 0, (size_t)(n * hd));
  int8_t *kt = ck_scratch(CK_SCRATCH_ATTENTION + 1, (size_t)(n * hd)), *vt = ck_scratch(CK_SCRATCH_ATTENTION + 2, (size_t)(n * hd));
  int32_t *qsum = ck_scratch(CK_SCRATCH_ATTENTION + 3, (size_t)n * 4), *ksum = ck_scratch(CK_SCRATCH_ATTENTION + 4, (size_t)n * 4), *vsum = ck_scratch(CK_SCRATCH_ATTENTION + 5, (size_t)n * 4);
  int32_t *acc = ck_scratch(CK_SCRATCH_ATTENTION + 6, (size_t)(nn > 2 * n ? nn : 2 * n) * 4), *pv = ck_scratch(CK_SCRATCH_ATTENTION + 7, (size_t)(2 * n * hd) * 4);
  float *p = ck_scratch(CK_SCRATCH_ATTENTION + 8, (size_t)nn * 4), *vf = shifts ? NULL : ck_scratch(CK_SCRATCH_ATTENTION + 9, (size_t)(n * hd) * 4);
  uint8_t *even = shifts ? ck_scratch(CK_SCRATCH_ATTENTION + 10, (size_t)nn) : NULL, *odd = shifts ? ck_scratch(CK_SCRATCH_ATTENTION + 11, (size_t)nn) : NULL;
  int rc = 0;
  if (!qu || !kt || !vt || !qsum || !ksum || !vsum || !acc || !pv || !p || (shifts ? !even || !odd : !vf)) return -1;
  omp_set_num_threads(1);
  const float sqk = scale * qz->sq * qz->sk, half_sqrt2 = qz->sqrt2 * 0.5f;
  for (long it = lo; it < hi; it++) {
    const long b = it / heads, h = it % heads;
    const float *q = qkv + b * n * ld + h * hd, *k = q + d, *v = q + 2 * d;
    levels_u8(q, ld, n, hd, qz->sq, qz->zq, qz->qmax, qu, qsum);
    levels_s8(k, ld, n, hd, qz->sk, qz->zk, qz->qmax, qz->o, kt, ksum);
    levels_s8(v, ld, n, hd, qz->sv, qz->zv, qz->qmax, qz->o, vt, vsum);
    // scores = scale·Σ (u − zq)(t + o − zk) = scale·(u·t − zq·Σt_j + (o − zk)·(Σu_i − hd·zq)), (N, N)
    if ((rc = gemm_u8s8('T', n, n, hd, qu, hd, kt, hd, acc))) goto done;
    const int32_t zq = (int32_t)qz->zq, ozk = (int32_t)(qz->o - qz->zk);
    for (long i = 0; i < n; i++) {
      const int32_t rowterm = ozk * (qsum[i] - (int32_t)hd * zq);
      const int32_t *ar = acc + i * n;
      float *pr = p + i * n;
      for (long j = 0; j < n; j++) pr[j] = sqk * (float)(ar[j] - zq * ksum[j] + rowterm);
    }
    // + (bias[h] + mask[b mod nW]), summed in the fake path's order.
    if (bias && mask) {
      const float *bh = bias + h * nn, *mw = mask + (b % nw) * nn;
      for (long e = 0; e < nn; e++) p[e] += bh[e] + mw[e];
    } else if (bias) {
      const float *bh = bias + h * nn;
      for (long e = 0; e < nn; e++) p[e] += bh[e];
    }
    ck_softmax_rows(p, p, n, n);
    float *out = ctx + b * n * d + h * hd;
    const float ov = qz->o - qz->zv;
    if (shifts) {
      // Level l: 2^(−l/2)·Δ. Even l: 2^−7·(128 >> l/2); odd l: 2^−7·(128 >> (l−1)/2)·√2/2.
      int32_t *esum = acc, *osum = acc + n;  // the scores' s32 buffer is free again
      sqrt2_shifts(p, n, n, qz->delta, nl, qz->t1, qz->t3, even, odd, esum, osum);
      if ((rc = gemm_u8s8('N', n, hd, n, even, n, vt, hd, pv))) goto done;
      if ((rc = gemm_u8s8('N', n, hd, n, odd, n, vt, hd, pv + n * hd))) goto done;
      const float s = qz->delta * qz->sv * (1.0f / 128.0f);
      for (long i = 0; i < n; i++) {
        const int32_t *er = pv + i * hd, *orr = pv + n * hd + i * hd;
        const float ce = ov * (float)esum[i], co = ov * (float)osum[i];
        for (long c = 0; c < hd; c++) out[i * d + c] = s * (((float)er[c] + ce) + half_sqrt2 * ((float)orr[c] + co));
      }
    } else {
      // Wider levels: P̂ = table[l]·Δ and V̂ = (t + o − zv)·sv in float, as the fake path has them.
      sqrt2_values(p, nn, qz->delta, nl, qz->t1, qz->t3, qz->table);
      for (long e = 0; e < n * hd; e++) vf[e] = ((float)vt[e] + ov) * qz->sv;
      dnnl_sgemm('N', 'N', n, hd, n, 1.0f, p, n, vf, hd, 0.0f, out, d);
    }
  }
done:
  return rc;
}
