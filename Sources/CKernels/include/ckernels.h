// Small C kernels the Swift tensor engine calls in hot loops.
// Why C: glibc's libmvec vector exp/log/erf/tanh are 10-40x faster than scalar libm,
// and OpenBLAS's thread control is only reachable from C.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>

// y[i] = f(x[i]) for i in [0, n). x and y may alias.
void ck_exp(const float *x, float *y, long n);
void ck_log(const float *x, float *y, long n);
void ck_erf(const float *x, float *y, long n);
void ck_tanh(const float *x, float *y, long n);

// Softmax over rows of length d (forward; backward accumulates into dx).
void ck_softmax_rows(const float *x, float *y, long rows, long d);
void ck_softmax_backward_rows(const float *y, const float *g, float *dx, long rows, long d);

// LayerNorm over rows of length d (γ, β may be NULL). The forward saves mean and rstd per row;
// the backward accumulates the input gradient into dx.
void ck_layernorm_rows(const float *x, float *y, float *mean, float *rstd, const float *g, const float *b,
                       long rows, long d, float eps);
void ck_layernorm_backward_rows(const float *x, const float *gy, float *dx, const float *mean, const float *rstd,
                                const float *g, long rows, long d);

// OpenBLAS: single-precision GEMM in row-major layout, C = alpha*op(A)*op(B) + beta*C.
void ck_sgemm(int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void ck_blas_set_threads(int n);
int ck_blas_get_threads(void);
const char *ck_blas_config(void);

// Tunes glibc malloc so large tensor buffers are reused, not re-mapped (call once at start).
void ck_tune_malloc(void);

// Wall clock in seconds (monotonic).
double ck_now(void);

#endif
