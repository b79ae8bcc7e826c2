// Integer execution of a quantized linear layer (docs/quantization.md, "Integer execution"):
// activations to u8 levels, an s8 weight matrix, u8·s8 → s32 products through oneDNN, and the
// dequantization epilogue. Single-threaded: callers split the rows across the pool.
// Each panel quantizes its own rows of the input.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "ckernels.h"

extern void omp_set_num_threads(int);

void ck_quantize_u8_clamps(const float *x, int64_t n, float scale, float zero, float umax, uint8_t *out, uint8_t *clamped) {
  // u = round_half_even(x / Δ) + zero, clamped to 0…umax; clamped[i] = 1 below, 2 above, else 0.
  for (int64_t i = 0; i < n; i++) {
    float v = rintf(x[i] / scale) + zero;
    uint8_t c = v < 0 ? 1 : (v > umax ? 2 : 0);
    v = v < 0 ? 0 : (v > umax ? umax : v);
    out[i] = (uint8_t)v;
    clamped[i] = c;
  }
}

void ck_quantize_u8(const float *x, int64_t n, float scale, float zero, float qmax, uint8_t *out) {
  // As the fake quantizer: clamp(round_half_even(x / Δ) + z, 0, qmax), here with an integer z.
  for (int64_t i = 0; i < n; i++) {
    float v = rintf(x[i] / scale) + zero;
    v = v < 0 ? 0 : (v > qmax ? qmax : v);
    out[i] = (uint8_t)v;
  }
}

// Per-thread scratch buffers that grow and are kept: the integer kernels run once per layer and
// panel, and fresh large mallocs there are fresh pages (mmap, page faults, zeroing) every time.
static __thread struct { void *p; size_t cap; } scratch_slots[CK_SCRATCH_SLOTS];

void *ck_scratch(int slot, size_t bytes) {
  if (scratch_slots[slot].cap < bytes) {
    free(scratch_slots[slot].p);
    scratch_slots[slot].p = malloc(bytes);
    scratch_slots[slot].cap = scratch_slots[slot].p ? bytes : 0;
  }
  return scratch_slots[slot].p;
}

int ck_cpu_has_vnni(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
}

static int gemm_widen_mode = -1;
void ck_set_gemm_u8s8_widen(int mode) { gemm_widen_mode = mode; }

int ck_gemm_u8s8_widens(void) {
  static int vnni = -1;
  if (vnni < 0) vnni = ck_cpu_has_vnni();
  return gemm_widen_mode >= 0 ? gemm_widen_mode : !vnni;
}

int ck_s8_saturates_pairs(const int8_t *b, long count) {
  // A min/max reduction without an early exit, so that it vectorizes (32 bytes a step): the
  // operands that fit must be read whole anyway.
  int8_t lo = 0, hi = 0;
  for (long i = 0; i < count; i++) { lo = b[i] < lo ? b[i] : lo; hi = b[i] > hi ? b[i] : hi; }
  return lo < -64 || hi > 63;
}

int ck_gemm_u8s8s32(char transb, long m, long n, long k, const uint8_t *a, long lda, const int8_t *b, long ldb, int32_t *c) {
  if (m <= 0 || n <= 0) return 0;
  if (k <= 0) { memset(c, 0, (size_t)(m * n) * sizeof(int32_t)); return 0; }  // oneDNN rejects k = 0
  const int32_t co = 0;
  const long rows = transb == 'T' ? n : k, cols = transb == 'T' ? k : n;
  // Without VNNI, oneDNN multiplies u8·s8 byte pairs into a saturating s16 sum (vpmaddubsw):
  // 2·255·(−128) does not fit, 2·255·(−64) does. Levels within [−64, 63] need no widening.
  // The scan runs over the operand's span, padding between rows included.
  const long span = rows > 0 ? (rows - 1) * ldb + cols : 0;
  const int widen = ck_gemm_u8s8_widens() && (gemm_widen_mode == 1 || ck_s8_saturates_pairs(b, span));
  if (!widen) return dnnl_gemm_u8s8s32('N', transb, 'F', m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, n, &co) == dnnl_success ? 0 : -2;
  int16_t *packed = ck_scratch(CK_SCRATCH_GEMM_WIDE + 0, (size_t)ck_s16_packed_count(n, k) * sizeof(int16_t));
  if (!packed) return -1;
  ck_s16_pack(transb, n, k, b, ldb, packed);
  return ck_gemm_u8s16(m, n, k, a, lda, packed, c);
}

static int linear_block(int m, int n, int k, const float *x, float sa, float zero, float umax, int fractional,
                        const int8_t *t, const int16_t *t_wide, const int32_t *tsum,
                        const int32_t *offset_minus_zw, const float *out_scale,
                        const float *bias, float *y, float e_low, float e_high, const float *wt, const float *residual,
                        int gelu) {
  uint8_t *u = ck_scratch(CK_SCRATCH_LINEAR + 0, (size_t)m * (size_t)k);
  uint8_t *clamped = fractional ? ck_scratch(CK_SCRATCH_LINEAR + 1, (size_t)m * (size_t)k) : NULL;
  int32_t *acc = ck_scratch(CK_SCRATCH_LINEAR + 2, (size_t)m * (size_t)n * sizeof(int32_t));
  float *corr = fractional ? ck_scratch(CK_SCRATCH_LINEAR + 3, (size_t)n * sizeof(float)) : NULL;
  int32_t *zt = ck_scratch(CK_SCRATCH_LINEAR + 4, (size_t)n * sizeof(int32_t));
  if (!u || !acc || !zt || (fractional && (!clamped || !corr))) return -1;
  if (fractional) ck_quantize_u8_clamps(x, (int64_t)m * k, sa, zero, umax, u, clamped);
  else ck_quantize_u8(x, (int64_t)m * k, sa, zero, umax, u);
  const int32_t za = (int32_t)zero;
  for (int j = 0; j < n; j++) zt[j] = za * tsum[j];
  omp_set_num_threads(1);
  // acc = u · tᵀ, (m, k) × (n, k)ᵀ, row-major (oneDNN's gemm API is row-major).
  const int rc = t_wide && ck_gemm_u8s8_widens() ? ck_gemm_u8s16(m, n, k, u, k, t_wide, acc) : ck_gemm_u8s8s32('T', m, n, k, u, k, t, k, acc);
  if (rc != 0) return rc;
  for (int i = 0; i < m; i++) {
    // Σ_k (u − za)(q − zw) = u·t − za·Σt + (o − zw)·(Σu − k·za), with t = q − o.
    // In s32 so that the loop vectorizes: |terms| ≤ k·255·255, under 2^31 for k < 33 000.
    int32_t usum = 0;
    const uint8_t *ur = u + (size_t)i * k;
    for (int kk = 0; kk < k; kk++) usum += ur[kk];
    const int32_t ushift = usum - k * za;
    const int32_t *ar = acc + (size_t)i * n;
    float *yr = y + (size_t)i * n;
    const float *rr = residual ? residual + (size_t)i * n : NULL;
    int any = 0;
    if (clamped) {
      // A fractional input zero point: clamped elements sit e_low / e_high off the integer grid;
      // add e·(q − zw)[:, k] for each (rows have few of them).
      const uint8_t *cr = clamped + (size_t)i * k;
      for (int kk = 0; kk < k; kk++) {
        if (!cr[kk]) {
          // Skip clean stretches eight flags at a time.
          uint64_t eight;
          while (kk + 8 <= k && (memcpy(&eight, cr + kk, 8), eight == 0)) kk += 8;
          if (kk >= k || !cr[kk]) continue;
        }
        if (!any) { for (int j = 0; j < n; j++) corr[j] = 0; any = 1; }
        const float e = cr[kk] == 1 ? e_low : e_high;
        const float *w = wt + (size_t)kk * n;
        for (int j = 0; j < n; j++) corr[j] += e * w[j];
      }
    }
    // y = (residual + b) + Δ·Σ, the float path's order (its GEMM accumulates onto r + b). The
    // loops are split by hand: a condition inside makes the compiler use masked loads, which
    // are slow on AMD cores.
    for (int j = 0; j < n; j++) yr[j] = (float)(ar[j] - zt[j] + offset_minus_zw[j] * ushift);
    if (any) for (int j = 0; j < n; j++) yr[j] += corr[j];
    if (rr && bias) for (int j = 0; j < n; j++) yr[j] = (rr[j] + bias[j]) + out_scale[j] * yr[j];
    else if (rr) for (int j = 0; j < n; j++) yr[j] = rr[j] + out_scale[j] * yr[j];
    else if (bias) for (int j = 0; j < n; j++) yr[j] = bias[j] + out_scale[j] * yr[j];
    else for (int j = 0; j < n; j++) yr[j] = out_scale[j] * yr[j];
    if (gelu) ck_gelu(yr, yr, n);
  }
  return 0;
}

int ck_int8_linear(int m, int n, int k, const float *x, float sa, float zero, float umax, int fractional,
                   const int8_t *t, const int16_t *t_wide, const int32_t *tsum,
                   const int32_t *offset_minus_zw, const float *out_scale,
                   const float *bias, float *y, float e_low, float e_high, const float *wt, const float *residual,
                   int gelu) {
  // Blocks of rows whose s32 products (rows × n) stay in a core's L2 until the epilogue reads
  // them; each block's oneDNN call packs the weights again, so blocks are not made smaller.
  const int block = n > 0 && 131072 / n > 32 ? 131072 / n : 32;
  for (int r = 0; r < m; r += block) {
    const int rows = m - r < block ? m - r : block;
    const int rc = linear_block(rows, n, k, x + (size_t)r * k, sa, zero, umax, fractional, t, t_wide, tsum, offset_minus_zw,
                                out_scale, bias, y + (size_t)r * n, e_low, e_high, wt, residual ? residual + (size_t)r * n : NULL, gelu);
    if (rc) return rc;
  }
  return 0;
}
