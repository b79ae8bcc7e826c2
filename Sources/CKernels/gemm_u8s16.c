// u8·s8 products widened to s16, for CPUs without VNNI (ck_gemm_u8s8_widens).
//
// Why: there oneDNN multiplies u8·s8 byte pairs with vpmaddubsw, whose s16 pair sum saturates
// once weights leave [−64, 63] (2·255·(−128) does not fit), and 8-bit weight levels always do.
// Splitting the weights into halves would take two products; widening both operands to s16 and
// summing pairs with vpmaddwd (s16·s16 pairs into s32, exact) takes one, at 0.7–1.0× oneDNN's
// unsaturated speed and 1.2–1.45× its float sgemm on an AVX2 Zen 3 (`sardfq bench int8`).
//
// Layout: b is packed once into panels of 24 columns with k in pairs, so that one 32-byte load
// holds (b[2p, j], b[2p+1, j]) for 8 columns; a's rows are widened per call, and a pair of its
// s16 values is one broadcast 32-bit word. The micro-kernel keeps 3 rows × 24 columns of s32
// sums in 9 registers (with 3 of b, 1 of a and 1 product: 14 of the 16; 4 rows spilled one).
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "ckernels.h"

#define PANEL 24  // columns per packed panel: three 8-lane s32 vectors
#define ROWS 3    // rows per micro-kernel call

long ck_s16_packed_count(long n, long k) { return (n + PANEL - 1) / PANEL * ((k + 1) / 2) * PANEL * 2; }

void ck_s16_pack(char transb, long n, long k, const int8_t *b, long ldb, int16_t *packed) {
  const long pairs = (k + 1) / 2, panels = (n + PANEL - 1) / PANEL;
  memset(packed, 0, (size_t)ck_s16_packed_count(n, k) * sizeof(int16_t));
  for (long panel = 0; panel < panels; panel++)
    for (long p = 0; p < pairs; p++)
      for (long j = 0; j < PANEL && panel * PANEL + j < n; j++)
        for (long h = 0; h < 2 && 2 * p + h < k; h++) {
          const long col = panel * PANEL + j, kk = 2 * p + h;
          packed[((panel * pairs + p) * PANEL + j) * 2 + h] = b[transb == 'T' ? col * ldb + kk : kk * ldb + col];
        }
}

// Both s16 values of a's pair p as one 32-bit word, for a broadcast.
static inline __m256i broadcast_pair(const int16_t *row, long p) {
  int32_t word;
  memcpy(&word, row + 2 * p, sizeof word);
  return _mm256_set1_epi32(word);
}

// One row of a panel's sums: 24 s32 values.
static inline void store_row(int32_t *row, __m256i v0, __m256i v1, __m256i v2) {
  _mm256_storeu_si256((__m256i *)row, v0);
  _mm256_storeu_si256((__m256i *)(row + 8), v1);
  _mm256_storeu_si256((__m256i *)(row + 16), v2);
}

// c[r][0..<cols] = Σ_p (a_r[2p], a_r[2p+1]) · panel[p] for `rows` (1…3) rows of widened a and
// the panel's first `vecs` (1…3) groups of 8 columns; both are constants where it is inlined.
static inline __attribute__((always_inline)) void micro_kernel(int rows, int vecs, long pairs, const int16_t *a0, const int16_t *a1,
                                                               const int16_t *a2, const int16_t *panel, int32_t *c, long ldc, long cols) {
  __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00, s20 = s00, s21 = s00, s22 = s00;
  for (long p = 0; p < pairs; p++, panel += 2 * PANEL) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)panel);
    const __m256i b1 = vecs > 1 ? _mm256_loadu_si256((const __m256i *)(panel + 16)) : b0;
    const __m256i b2 = vecs > 2 ? _mm256_loadu_si256((const __m256i *)(panel + 32)) : b0;
    __m256i x = broadcast_pair(a0, p);
    s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(x, b0));
    if (vecs > 1) s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(x, b1));
    if (vecs > 2) s02 = _mm256_add_epi32(s02, _mm256_madd_epi16(x, b2));
    if (rows > 1) {
      x = broadcast_pair(a1, p);
      s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(x, b0));
      if (vecs > 1) s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(x, b1));
      if (vecs > 2) s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(x, b2));
    }
    if (rows > 2) {
      x = broadcast_pair(a2, p);
      s20 = _mm256_add_epi32(s20, _mm256_madd_epi16(x, b0));
      if (vecs > 1) s21 = _mm256_add_epi32(s21, _mm256_madd_epi16(x, b1));
      if (vecs > 2) s22 = _mm256_add_epi32(s22, _mm256_madd_epi16(x, b2));
    }
  }
  if (cols == PANEL) {  // a full panel: straight to c (a memcpy call per row cost as much as a short k)
    store_row(c, s00, s01, s02);
    if (rows > 1) store_row(c + ldc, s10, s11, s12);
    if (rows > 2) store_row(c + 2 * ldc, s20, s21, s22);
    return;
  }
  int32_t sums[ROWS][PANEL];
  store_row(sums[0], s00, s01, s02);
  store_row(sums[1], s10, s11, s12);
  store_row(sums[2], s20, s21, s22);
  for (int r = 0; r < rows; r++)
    for (long j = 0; j < cols; j++) c[r * ldc + j] = sums[r][j];
}

// One panel of c for `rows` rows of widened a, with the panel's `vecs` groups of 8 columns a constant.
static inline __attribute__((always_inline)) void panel_rows(int vecs, long rows, long pairs, const int16_t *wide,
                                                             const int16_t *bp, int32_t *c, long n, long cols) {
  for (long i = 0; i < rows; i += ROWS) {
    const int16_t *a0 = wide + i * pairs * 2, *a1 = a0 + pairs * 2, *a2 = a1 + pairs * 2;
    int32_t *ci = c + i * n;
    if (rows - i >= 3) micro_kernel(3, vecs, pairs, a0, a1, a2, bp, ci, n, cols);
    else if (rows - i == 2) micro_kernel(2, vecs, pairs, a0, a1, a2, bp, ci, n, cols);
    else micro_kernel(1, vecs, pairs, a0, a1, a2, bp, ci, n, cols);
  }
}

int ck_gemm_u8s16(long m, long n, long k, const uint8_t *a, long lda, const int16_t *packed, int32_t *c) {
  if (m <= 0 || n <= 0) return 0;
  if (k <= 0) { memset(c, 0, (size_t)(m * n) * sizeof(int32_t)); return 0; }
  const long pairs = (k + 1) / 2, panels = (n + PANEL - 1) / PANEL;
  // Chunks of a's rows, widened (and k padded to pairs) into about 64 kB, re-read from L2 for
  // every panel while the panel stays in L1/L2.
  const long chunk = ROWS * (65536 / (ROWS * pairs * 4) > 1 ? 65536 / (ROWS * pairs * 4) : 1);
  int16_t *wide = ck_scratch(CK_SCRATCH_GEMM_WIDE + 1, (size_t)chunk * (size_t)pairs * 2 * sizeof(int16_t));
  if (!wide) return -1;
  for (long i0 = 0; i0 < m; i0 += chunk) {
    const long rows = m - i0 < chunk ? m - i0 : chunk;
    for (long i = 0; i < rows; i++) {
      const uint8_t *src = a + (i0 + i) * lda;
      int16_t *dst = wide + i * pairs * 2;
      for (long kk = 0; kk < k; kk++) dst[kk] = src[kk];
      if (k & 1) dst[k] = 0;
    }
    for (long panel = 0; panel < panels; panel++) {
      const int16_t *bp = packed + panel * pairs * PANEL * 2;
      const long cols = n - panel * PANEL < PANEL ? n - panel * PANEL : PANEL;
      int32_t *cp = c + i0 * n + panel * PANEL;
      // The last panel may be narrower: its zero columns past n are not multiplied.
      if (cols > 16) panel_rows(3, rows, pairs, wide, bp, cp, n, cols);
      else if (cols > 8) panel_rows(2, rows, pairs, wide, bp, cp, n, cols);
      else panel_rows(1, rows, pairs, wide, bp, cp, n, cols);
    }
  }
  return 0;
}
