#include "ckernels.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <cblas.h>

// glibc libmvec AVX2 variants (x86-64-v3). Declared here because clang's
// -fveclib=libmvec mapping knows exp/log but not erf/tanh.
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_logf(__m256);
__m256 _ZGVdN8v_erff(__m256);
__m256 _ZGVdN8v_tanhf(__m256);

#define VECTOR_MAP(NAME, VFN)                                              \
  void NAME(const float *x, float *y, long n) {                            \
    long i = 0;                                                            \
    for (; i + 8 <= n; i += 8)                                             \
      _mm256_storeu_ps(y + i, VFN(_mm256_loadu_ps(x + i)));                \
    if (i < n) { /* tail: pad to one vector so results match the body */  \
      float buf[8] = {0};                                                  \
      memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));                \
      _mm256_storeu_ps(buf, VFN(_mm256_loadu_ps(buf)));                    \
      memcpy(y + i, buf, (size_t)(n - i) * sizeof(float));                 \
    }                                                                      \
  }

// exp with inputs below -87 raised to -87: libmvec sends underflowing lanes to a slow scalar
// path (softmax rows are full of them); the result differs from 0 by less than 2e-38.
static inline __m256 exp_clamped(__m256 x) { return _ZGVdN8v_expf(_mm256_max_ps(x, _mm256_set1_ps(-87.0f))); }
VECTOR_MAP(ck_exp, exp_clamped)
VECTOR_MAP(ck_log, _ZGVdN8v_logf)
VECTOR_MAP(ck_erf, _ZGVdN8v_erff)
VECTOR_MAP(ck_tanh, _ZGVdN8v_tanhf)

void ck_sgemm(int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
void ck_blas_set_threads(int n) { openblas_set_num_threads(n); }
int ck_blas_get_threads(void) { return openblas_get_num_threads(); }
const char *ck_blas_config(void) { return openblas_get_config(); }

double ck_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Row-wise numerically stable softmax: y[r, :] = exp(x[r, :] - max) / sum. Rows of length d.
void ck_softmax_rows(const float *x, float *y, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    const float *xi = x + r * d;
    float *yi = y + r * d;
    float m = -INFINITY;
    for (long j = 0; j < d; j++) m = xi[j] > m ? xi[j] : m;
    for (long j = 0; j < d; j++) yi[j] = xi[j] - m;
    ck_exp(yi, yi, d);
    float s = 0;
    for (long j = 0; j < d; j++) s += yi[j];
    float inv = 1.0f / s;
    for (long j = 0; j < d; j++) yi[j] *= inv;
  }
}

// Softmax backward for rows: dx[r, :] += y ⊙ (g − Σ g·y).
void ck_softmax_backward_rows(const float *y, const float *g, float *dx, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    const float *yi = y + r * d, *gi = g + r * d;
    float *di = dx + r * d;
    float s = 0;
    for (long j = 0; j < d; j++) s += gi[j] * yi[j];
    for (long j = 0; j < d; j++) di[j] += yi[j] * (gi[j] - s);
  }
}

#include <malloc.h>
// Keeps freed tensor buffers in the heap instead of returning them to the kernel: glibc mmaps
// every large block by default, and the kernel then zeroes fresh pages on each new tensor
// (measured: 14% of a ViT forward+backward in clear_page). 32 MiB is glibc's largest threshold.
void ck_tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_ARENA_MAX, 2);
}

// Horizontal sum of 8 lanes.
static inline float hsum8(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Σ x[j] and Σ x[j]·y[j] over d elements with 8-lane partial sums (order differs from a
// serial loop only in float rounding).
static inline float vsum(const float *x, long d) {
  __m256 acc = _mm256_setzero_ps(); long j = 0;
  for (; j + 8 <= d; j += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + j));
  float s = hsum8(acc);
  for (; j < d; j++) s += x[j];
  return s;
}

// LayerNorm forward over rows of length d: y = (x − μ)·rstd·γ + β; saves μ and rstd per row.
// γ, β may be NULL (identity affine).
void ck_layernorm_rows(const float *x, float *y, float *mean, float *rstd, const float *g, const float *b,
                       long rows, long d, float eps) {
  for (long r = 0; r < rows; r++) {
    const float *xi = x + r * d;
    float *yi = y + r * d;
    float m = vsum(xi, d) / (float)d;
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= d; j += 8) { __m256 c = _mm256_sub_ps(_mm256_loadu_ps(xi + j), vm); acc = _mm256_fmadd_ps(c, c, acc); }
    float v = hsum8(acc);
    for (; j < d; j++) { float c = xi[j] - m; v += c * c; }
    float rs = 1.0f / sqrtf(v / (float)d + eps);
    mean[r] = m; rstd[r] = rs;
    for (j = 0; j < d; j++) {
      float t = (xi[j] - m) * rs;
      yi[j] = t * (g ? g[j] : 1.0f) + (b ? b[j] : 0.0f);
    }
  }
}

// LayerNorm backward for the input: dx += rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = g·γ.
void ck_layernorm_backward_rows(const float *x, const float *gy, float *dx, const float *mean, const float *rstd,
                                const float *g, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    const float *xi = x + r * d, *gi = gy + r * d;
    float *di = dx + r * d;
    float m = mean[r], rs = rstd[r], sg = 0, sgx = 0;
    for (long j = 0; j < d; j++) {
      float gh = gi[j] * (g ? g[j] : 1.0f);
      sg += gh; sgx += gh * (xi[j] - m) * rs;
    }
    sg /= (float)d; sgx /= (float)d;
    for (long j = 0; j < d; j++) {
      float gh = gi[j] * (g ? g[j] : 1.0f), xh = (xi[j] - m) * rs;
      di[j] += rs * (gh - sg - xh * sgx);
    }
  }
}
