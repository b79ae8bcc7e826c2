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

// oneDNN's sgemm (row-major, like cblas) run on one thread: its JIT AVX-512 kernels are 5-25%
// faster than OpenBLAS's single-threaded sgemm on the ViT shapes (measured with `bench gemm`).
// oneDNN is built on OpenMP here; one thread per call keeps libgomp from starting (and
// spin-waiting in) a team of its own inside our workers.
#include <oneapi/dnnl/dnnl.h>
extern void omp_set_num_threads(int);
static int ck_gemm_backend_dnnl = 1;
void ck_set_gemm_backend(int dnnl) { ck_gemm_backend_dnnl = dnnl; }
int ck_get_gemm_backend(void) { return ck_gemm_backend_dnnl; }

void ck_sgemm_1t(int transA, int transB, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (ck_gemm_backend_dnnl) {
    omp_set_num_threads(1);
    if (dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == dnnl_success)
      return;
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
void ck_blas_set_threads(int n) { openblas_set_num_threads(n); }
int ck_blas_get_threads(void) { return openblas_get_num_threads(); }
const char *ck_blas_config(void) { return openblas_get_config(); }

double ck_fma_peak_gflops(double seconds) {
  // Ten chains hide the FMA latency (4–5 cycles) behind two issue ports; the values stay finite.
  __m256 acc[10];
  for (int i = 0; i < 10; i++) acc[i] = _mm256_set1_ps(0.0f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  long rounds = 0;
  double t0 = ck_now(), t = t0;
  while (t - t0 < seconds) {
    for (int r = 0; r < 100000; r++)
      for (int i = 0; i < 10; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    rounds += 100000;
    t = ck_now();
  }
  // Keep the result live so the loop is not removed.
  float sink[8];
  __m256 sum = acc[0];
  for (int i = 1; i < 10; i++) sum = _mm256_add_ps(sum, acc[i]);
  _mm256_storeu_ps(sink, sum);
  volatile float keep = sink[0];
  (void)keep;
  return (double)rounds * 10 * 8 * 2 / (t - t0) / 1e9;
}

__attribute__((target("avx512f"))) static double fma512_loop(double seconds) {
  __m512 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps(0.0f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  long rounds = 0;
  double t0 = ck_now(), t = t0;
  while (t - t0 < seconds) {
    for (int r = 0; r < 100000; r++)
      for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    rounds += 100000;
    t = ck_now();
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
  volatile float keep = _mm512_reduce_add_ps(sum);
  (void)keep;
  return (double)rounds * 12 * 16 * 2 / (t - t0) / 1e9;
}

double ck_fma512_peak_gflops(double seconds) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? fma512_loop(seconds) : 0;
}

double ck_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
// Keeps freed tensor buffers in the heap instead of returning them to the kernel: glibc mmaps
// every large block by default, and the kernel then zeroes fresh pages on each new tensor
// (measured: 14% of a ViT forward+backward in clear_page). 32 MiB is glibc's largest threshold.
void ck_tune_malloc(void) {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_ARENA_MAX, 2);
}

// Buffer cache for large tensor buffers. Why: mallopt alone is not enough. The engine runs on
// a secondary thread, whose glibc arena lives in 64 MiB mmapped heaps that glibc unmaps when
// they empty; each iteration then faults its activations in again (measured: 200k page faults,
// a quarter of the CPU time, in `bench ops`). Tensors of the same sizes recur every iteration,
// so freed blocks are kept per size class and handed out again without touching the kernel.
#define CK_CACHE_MIN ((size_t)1 << 16)          // smaller blocks go straight to malloc
#define CK_CACHE_CAP ((size_t)3 << 30)          // at most 3 GiB of free blocks kept
#define CK_CACHE_SLOTS 256
typedef struct CkBlock { struct CkBlock *next; } CkBlock;  // link stored in the free block
static struct { size_t bytes; CkBlock *head; } ck_slots[CK_CACHE_SLOTS];
static size_t ck_cached_bytes, ck_hits, ck_misses, ck_dropped;
static pthread_mutex_t ck_cache_lock = PTHREAD_MUTEX_INITIALIZER;

// Size class: rounded up to 1/8 of the enclosing power of two (at most 12.5% slack).
size_t ck_buffer_size_class(size_t bytes) {
  if (bytes < CK_CACHE_MIN) return (bytes + 63) & ~(size_t)63;
  int top = 63 - __builtin_clzl(bytes);
  size_t step = (size_t)1 << (top - 3);
  return (bytes + step - 1) & ~(step - 1);
}

static long ck_slot(size_t bytes, int create) {
  size_t h = (bytes >> 12) * 0x9E3779B97F4A7C15ull;
  for (long i = 0; i < CK_CACHE_SLOTS; i++) {
    long s = (long)((h + (size_t)i) % CK_CACHE_SLOTS);
    if (ck_slots[s].bytes == bytes) return s;
    if (ck_slots[s].bytes == 0) { if (create) { ck_slots[s].bytes = bytes; return s; } return -1; }
  }
  return -1;
}

// Frees every cached block.
void ck_buffer_trim(void) {
  pthread_mutex_lock(&ck_cache_lock);
  for (long s = 0; s < CK_CACHE_SLOTS; s++) {
    while (ck_slots[s].head) { CkBlock *b = ck_slots[s].head; ck_slots[s].head = b->next; free(b); }
  }
  ck_cached_bytes = 0;
  pthread_mutex_unlock(&ck_cache_lock);
}

void *ck_buffer_alloc(size_t bytes) {
  size_t cls = ck_buffer_size_class(bytes);
  if (cls >= CK_CACHE_MIN) {
    pthread_mutex_lock(&ck_cache_lock);
    long s = ck_slot(cls, 0);
    if (s >= 0 && ck_slots[s].head) {
      CkBlock *b = ck_slots[s].head;
      ck_slots[s].head = b->next;
      ck_cached_bytes -= cls;
      ck_hits++;
      pthread_mutex_unlock(&ck_cache_lock);
      return b;
    }
    ck_misses++;
    pthread_mutex_unlock(&ck_cache_lock);
  }
  void *p = aligned_alloc(64, cls);
  if (!p) abort();
  return p;
}

void ck_buffer_free(void *p, size_t bytes) {
  if (!p) return;
  size_t cls = ck_buffer_size_class(bytes);
  if (cls >= CK_CACHE_MIN) {
    pthread_mutex_lock(&ck_cache_lock);
    long s = ck_cached_bytes + cls <= CK_CACHE_CAP ? ck_slot(cls, 1) : -1;
    if (s >= 0) {
      CkBlock *b = p;
      b->next = ck_slots[s].head;
      ck_slots[s].head = b;
      ck_cached_bytes += cls;
      pthread_mutex_unlock(&ck_cache_lock);
      return;
    }
    ck_dropped++;
    pthread_mutex_unlock(&ck_cache_lock);
  }
  free(p);
}

void ck_buffer_stats(size_t *hits, size_t *misses, size_t *dropped) {
  pthread_mutex_lock(&ck_cache_lock);
  *hits = ck_hits; *misses = ck_misses; *dropped = ck_dropped;
  pthread_mutex_unlock(&ck_cache_lock);
}

size_t ck_buffer_cached_bytes(void) {
  pthread_mutex_lock(&ck_cache_lock);
  size_t n = ck_cached_bytes;
  pthread_mutex_unlock(&ck_cache_lock);
  return n;
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


// Mask with the first n (0..8) lanes set, for loads/stores of a row's tail.
static inline __m256i tail_mask(long n) {
  static const int bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(bits + 8 - n));
}

// Σ x[j]·y[j] over d elements with 8-lane partial sums.
static inline float vdot(const float *x, const float *y, long d) {
  __m256 acc = _mm256_setzero_ps(); long j = 0;
  for (; j + 8 <= d; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(y + j), acc);
  float s = hsum8(acc);
  for (; j < d; j++) s += x[j] * y[j];
  return s;
}

void ck_softmax_rows(const float *x, float *y, long rows, long d) {
  const long body = d & ~7L, rest = d - body;
  const __m256i tm = tail_mask(rest);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (long r = 0; r < rows; r++) {
    const float *xi = x + r * d;
    float *yi = y + r * d;
    __m256 vm = ninf;
    for (long j = 0; j < body; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(xi + j));
    if (rest) vm = _mm256_max_ps(vm, _mm256_blendv_ps(ninf, _mm256_maskload_ps(xi + body, tm), _mm256_castsi256_ps(tm)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const __m256 m = _mm256_broadcastss_ps(m4);
    __m256 acc = _mm256_setzero_ps();
    for (long j = 0; j < body; j += 8) {
      __m256 e = exp_clamped(_mm256_sub_ps(_mm256_loadu_ps(xi + j), m));
      _mm256_storeu_ps(yi + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    if (rest) {
      __m256 e = exp_clamped(_mm256_sub_ps(_mm256_maskload_ps(xi + body, tm), m));
      e = _mm256_and_ps(e, _mm256_castsi256_ps(tm));
      _mm256_maskstore_ps(yi + body, tm, e);
      acc = _mm256_add_ps(acc, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum8(acc));
    for (long j = 0; j < body; j += 8) _mm256_storeu_ps(yi + j, _mm256_mul_ps(_mm256_loadu_ps(yi + j), inv));
    if (rest) _mm256_maskstore_ps(yi + body, tm, _mm256_mul_ps(_mm256_maskload_ps(yi + body, tm), inv));
  }
}

// dst = (acc ? dst : 0) + v for one vector (full or masked tail).
#define STORE_ACC(dst, v, acc) _mm256_storeu_ps((dst), (acc) ? _mm256_add_ps(_mm256_loadu_ps(dst), (v)) : (v))
#define STORE_ACC_TAIL(dst, v, acc, tm) \
  _mm256_maskstore_ps((dst), (tm), (acc) ? _mm256_add_ps(_mm256_maskload_ps((dst), (tm)), (v)) : (v))

void ck_softmax_backward_rows(const float *y, const float *g, float *dx, long rows, long d, int acc) {
  const long body = d & ~7L, rest = d - body;
  const __m256i tm = tail_mask(rest);
  for (long r = 0; r < rows; r++) {
    const float *yi = y + r * d, *gi = g + r * d;
    float *di = dx + r * d;
    const __m256 s = _mm256_set1_ps(vdot(gi, yi, d));
    for (long j = 0; j < body; j += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(yi + j), _mm256_sub_ps(_mm256_loadu_ps(gi + j), s));
      STORE_ACC(di + j, v, acc);
    }
    if (rest) {
      __m256 v = _mm256_mul_ps(_mm256_maskload_ps(yi + body, tm), _mm256_sub_ps(_mm256_maskload_ps(gi + body, tm), s));
      STORE_ACC_TAIL(di + body, v, acc, tm);
    }
  }
}

// Φ(x) = ½(1 + erf(x/√2)) for one vector.
static inline __m256 gelu_cdf(__m256 x) {
  const __m256 half = _mm256_set1_ps(0.5f);
  __m256 e = _ZGVdN8v_erff(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
  return _mm256_fmadd_ps(half, e, half);
}

void ck_gelu(const float *x, float *y, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, gelu_cdf(v)));
  }
  if (i < n) {
    const __m256i tm = tail_mask(n - i);
    __m256 v = _mm256_maskload_ps(x + i, tm);
    _mm256_maskstore_ps(y + i, tm, _mm256_mul_ps(v, gelu_cdf(v)));
  }
}

// GELU'(x) = Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π).
static inline __m256 gelu_grad(__m256 x) {
  __m256 e = exp_clamped(_mm256_mul_ps(_mm256_mul_ps(x, x), _mm256_set1_ps(-0.5f)));
  return _mm256_fmadd_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.3989422804014327f)), e, gelu_cdf(x));
}

void ck_gelu_backward(const float *x, const float *g, float *dx, long n, int acc) {
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(g + i), gelu_grad(_mm256_loadu_ps(x + i)));
    STORE_ACC(dx + i, v, acc);
  }
  if (i < n) {
    const __m256i tm = tail_mask(n - i);
    __m256 v = _mm256_mul_ps(_mm256_maskload_ps(g + i, tm), gelu_grad(_mm256_maskload_ps(x + i, tm)));
    STORE_ACC_TAIL(dx + i, v, acc, tm);
  }
}

// Bias + GELU over rows of length d: y[r, j] = GELU(c[r, j] + b[j]) (the fc1 of a transformer MLP
// and its activation without materializing c + b), and its backward dz (+)= g·GELU'(c + b).
void ck_gelu_bias_rows(const float *c, const float *b, float *y, long rows, long d) {
  const long body = d & ~7L, rest = d - body;
  const __m256i tm = tail_mask(rest);
  for (long r = 0; r < rows; r++) {
    const float *ci = c + r * d;
    float *yi = y + r * d;
    for (long j = 0; j < body; j += 8) {
      __m256 v = _mm256_add_ps(_mm256_loadu_ps(ci + j), _mm256_loadu_ps(b + j));
      _mm256_storeu_ps(yi + j, _mm256_mul_ps(v, gelu_cdf(v)));
    }
    if (rest) {
      __m256 v = _mm256_add_ps(_mm256_maskload_ps(ci + body, tm), _mm256_maskload_ps(b + body, tm));
      _mm256_maskstore_ps(yi + body, tm, _mm256_mul_ps(v, gelu_cdf(v)));
    }
  }
}

void ck_gelu_bias_backward_rows(const float *c, const float *b, const float *g, float *dz, long rows, long d, int acc) {
  const long body = d & ~7L, rest = d - body;
  const __m256i tm = tail_mask(rest);
  for (long r = 0; r < rows; r++) {
    const float *ci = c + r * d, *gi = g + r * d;
    float *di = dz + r * d;
    for (long j = 0; j < body; j += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(gi + j), gelu_grad(_mm256_add_ps(_mm256_loadu_ps(ci + j), _mm256_loadu_ps(b + j))));
      STORE_ACC(di + j, v, acc);
    }
    if (rest) {
      __m256 z = _mm256_add_ps(_mm256_maskload_ps(ci + body, tm), _mm256_maskload_ps(b + body, tm));
      __m256 v = _mm256_mul_ps(_mm256_maskload_ps(gi + body, tm), gelu_grad(z));
      STORE_ACC_TAIL(di + body, v, acc, tm);
    }
  }
}

void ck_layernorm_backward_rows(const float *x, const float *gy, float *dx, const float *mean, const float *rstd,
                                const float *g, long rows, long d, int acc) {
  const long body = d & ~7L, rest = d - body;
  const __m256i tm = tail_mask(rest);
  const __m256 one = _mm256_set1_ps(1.0f);
  for (long r = 0; r < rows; r++) {
    const float *xi = x + r * d, *gi = gy + r * d;
    float *di = dx + r * d;
    const __m256 m = _mm256_set1_ps(mean[r]), rs = _mm256_set1_ps(rstd[r]);
    __m256 sg = _mm256_setzero_ps(), sgx = _mm256_setzero_ps();
    for (long j = 0; j < body; j += 8) {
      __m256 gh = _mm256_mul_ps(_mm256_loadu_ps(gi + j), g ? _mm256_loadu_ps(g + j) : one);
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xi + j), m), rs);
      sg = _mm256_add_ps(sg, gh); sgx = _mm256_fmadd_ps(gh, xh, sgx);
    }
    if (rest) {  // masked lanes load as 0, so they add nothing
      __m256 gh = _mm256_mul_ps(_mm256_maskload_ps(gi + body, tm), g ? _mm256_maskload_ps(g + body, tm) : one);
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xi + body, tm), m), rs);
      sg = _mm256_add_ps(sg, gh); sgx = _mm256_fmadd_ps(gh, xh, sgx);
    }
    const __m256 msg = _mm256_set1_ps(hsum8(sg) / (float)d), msgx = _mm256_set1_ps(hsum8(sgx) / (float)d);
    for (long j = 0; j < body; j += 8) {
      __m256 gh = _mm256_mul_ps(_mm256_loadu_ps(gi + j), g ? _mm256_loadu_ps(g + j) : one);
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xi + j), m), rs);
      __m256 v = _mm256_mul_ps(rs, _mm256_fnmadd_ps(xh, msgx, _mm256_sub_ps(gh, msg)));
      STORE_ACC(di + j, v, acc);
    }
    if (rest) {
      __m256 gh = _mm256_mul_ps(_mm256_maskload_ps(gi + body, tm), g ? _mm256_maskload_ps(g + body, tm) : one);
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xi + body, tm), m), rs);
      __m256 v = _mm256_mul_ps(rs, _mm256_fnmadd_ps(xh, msgx, _mm256_sub_ps(gh, msg)));
      STORE_ACC_TAIL(di + body, v, acc, tm);
    }
  }
}

void ck_layernorm_param_grads(const float *x, const float *gy, const float *mean, const float *rstd,
                              float *dgamma, float *dbeta, long rows, long d, long c0, long c1) {
  for (long r = 0; r < rows; r++) {
    const float *xi = x + r * d, *gi = gy + r * d;
    const float m = mean[r], rs = rstd[r];
    if (dgamma) for (long j = c0; j < c1; j++) dgamma[j] += gi[j] * (xi[j] - m) * rs;
    if (dbeta) for (long j = c0; j < c1; j++) dbeta[j] += gi[j];
  }
}

// Rows of `cols` elements added into one accumulator row (the bias gradient of linear).
void ck_sum_rows(const float *g, float *out, long rows, long cols, long c0, long c1) {
  for (long r = 0; r < rows; r++) {
    const float *gi = g + r * cols;
    for (long j = c0; j < c1; j++) out[j] += gi[j];
  }
}
