// Small C kernels the Swift tensor engine calls in hot loops.
// Why C: glibc's libmvec vector exp/log/erf/tanh are 10-40x faster than scalar libm,
// and OpenBLAS's thread control is only reachable from C.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

// y[i] = f(x[i]) for i in [0, n). x and y may alias.
void ck_exp(const float *x, float *y, long n);
void ck_log(const float *x, float *y, long n);
void ck_erf(const float *x, float *y, long n);
void ck_tanh(const float *x, float *y, long n);

// Backward kernels take `acc`: nonzero adds into dx, zero overwrites it (a fresh gradient
// buffer, which then needs no zero-fill). Rows of any length d (tails are masked).

// Softmax over rows of length d; the backward computes dx (+)= y ⊙ (g − Σ g·y).
void ck_softmax_rows(const float *x, float *y, long rows, long d);
void ck_softmax_backward_rows(const float *y, const float *g, float *dx, long rows, long d, int acc);

// GELU (erf form) y = x·Φ(x); the backward computes dx (+)= g·(Φ(x) + x·φ(x)) from x alone.
void ck_gelu(const float *x, float *y, long n);
void ck_gelu_backward(const float *x, const float *g, float *dx, long n, int acc);
// GELU of c + b for rows of length d (b broadcast over rows), and its backward from c and b.
void ck_gelu_bias_rows(const float *c, const float *b, float *y, long rows, long d);
void ck_gelu_bias_backward_rows(const float *c, const float *b, const float *g, float *dz, long rows, long d, int acc);

// LayerNorm over rows of length d (γ, β may be NULL). The forward saves mean and rstd per row;
// the backward computes the input gradient; the parameter gradients add Σ_rows g·x̂ into dγ and
// Σ_rows g into dβ (either may be NULL) for columns [c0, c1).
void ck_layernorm_rows(const float *x, float *y, float *mean, float *rstd, const float *g, const float *b,
                       long rows, long d, float eps);
void ck_layernorm_backward_rows(const float *x, const float *gy, float *dx, const float *mean, const float *rstd,
                                const float *g, long rows, long d, int acc);
void ck_layernorm_param_grads(const float *x, const float *gy, const float *mean, const float *rstd,
                              float *dgamma, float *dbeta, long rows, long d, long c0, long c1);

// out[j] += Σ_r g[r, j] for columns [c0, c1) of a (rows, cols) matrix (bias gradients).
void ck_sum_rows(const float *g, float *out, long rows, long cols, long c0, long c1);

// OpenBLAS: single-precision GEMM in row-major layout, C = alpha*op(A)*op(B) + beta*C.
void ck_sgemm(int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
// The engine's GEMM, same arguments, on the calling thread only (OpenBLAS at one thread must be
// set beforehand): oneDNN's sgemm by default, OpenBLAS after ck_set_gemm_backend(0).
void ck_sgemm_1t(int transA, int transB, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void ck_set_gemm_backend(int dnnl);
int ck_get_gemm_backend(void);
void ck_blas_set_threads(int n);
int ck_blas_get_threads(void);
const char *ck_blas_config(void);

// Tunes glibc malloc so large tensor buffers are reused, not re-mapped (call once at start).
void ck_tune_malloc(void);

// Tensor buffers: 64-byte aligned, uninitialised. Blocks of 64 KiB and more are cached per size
// class when freed (up to 3 GiB; blocks beyond that go back to malloc) and reused, so recurring
// tensor sizes never fault pages in again. The cache holds at most what the process once had
// live at the same time, plus sizes it no longer uses; ck_buffer_trim releases all of it.
// `bytes` passed to free must be the size given to alloc. Thread-safe.
void *ck_buffer_alloc(size_t bytes);
void ck_buffer_free(void *p, size_t bytes);
size_t ck_buffer_size_class(size_t bytes);
// Bytes currently held in the cache (free blocks), and releasing them all to malloc.
size_t ck_buffer_cached_bytes(void);
void ck_buffer_trim(void);
// Cache counters since start: allocations served from the cache, allocations that missed it,
// and frees that did not fit under the cap.
void ck_buffer_stats(size_t *hits, size_t *misses, size_t *dropped);

// The engine's worker pool (pool.c): ck_pool_run calls fn(ctx, i) for every i in [0, chunks),
// spread over the calling thread and workers-1 persistent threads, and returns when all are done.
// Nested calls, and calls while another thread's job runs, run inline on the caller.
typedef void (*ck_task_fn)(void *ctx, long chunk);
void ck_pool_init(int workers);  // before the first run; later calls change nothing
void ck_pool_run(long chunks, ck_task_fn fn, void *ctx);

// Wall clock in seconds (monotonic).
double ck_now(void);

// The single-core rate of fused multiply-adds on 8-float AVX2 vectors (the widest every machine of
// this binary has), in GFLOP/s: ten independent accumulator chains, timed for about `seconds`.
// Measured, not assumed: what this core sustains now (clock, turbo, load of the shared machine).
double ck_fma_peak_gflops(double seconds);
// The same on 16-float AVX-512 vectors, or 0 when this CPU has no AVX-512 (checked at run time).
double ck_fma512_peak_gflops(double seconds);

// Fused multi-head attention (attention.c). Items it = b·H + h in [lo, hi).
// qkv (B, N, 3·H·hd); bias (H, N, N) or NULL; mask (nw, N, N) or NULL; probs (B, H, N, N); ctx (B, N, H·hd).
void ck_attention_forward(const float *qkv, const float *bias, const float *mask, long nw, float *probs,
                          float *ctx, long n, long heads, long hd, float scale, long lo, long hi);
void ck_attention_backward_context(const float *qkv, const float *probs, const float *gctx, float *gprobs,
                                   int acc_probs, float *gqkv, long n, long heads, long hd, long lo, long hi);
void ck_attention_backward_probs(const float *qkv, const float *probs, const float *gprobs, float *gqkv,
                                 float *gscores, long n, long heads, long hd, float scale, long lo, long hi);

// ---- Integer execution of quantized linear layers (int8.c) ----
/// u[i] = clamp(round_half_even(x[i] / scale) + zero, 0, qmax) as u8 (zero an integer, qmax ≤ 255).
void ck_quantize_u8(const float *x, int64_t n, float scale, float zero, float qmax, uint8_t *out);
/// As ck_quantize_u8 with the clamp at umax, marking clamped elements (1 below 0, 2 above umax).
void ck_quantize_u8_clamps(const float *x, int64_t n, float scale, float zero, float umax, uint8_t *out, uint8_t *clamped);
/// Who owns which per-thread scratch slot. Owners never share one: the attention block keeps its
/// qkv and context rows across calls to ck_int8_linear and ck_int8_attention_forward, which
/// keeps its own across its small products.
enum {
  CK_SCRATCH_LINEAR = 0,         // 5 slots: ck_int8_linear
  CK_SCRATCH_ATTENTION = 5,      // 12 slots: ck_int8_attention_forward
  CK_SCRATCH_SMALL_PRODUCT = 17, // 3 slots: its small integer products
  CK_SCRATCH_MLP_HIDDEN = 20,    // the integer MLP's hidden rows (Swift)
  CK_SCRATCH_BLOCK_QKV = 21,     // the integer attention block's qkv rows (Swift)
  CK_SCRATCH_BLOCK_CONTEXT = 22, // and its context rows (Swift)
  CK_SCRATCH_GEMM_WIDE = 23,     // 2 slots: ck_gemm_u8s8s32's packed s16 operand, ck_gemm_u8s16's widened rows
  CK_SCRATCH_SLOTS = 25
};
/// Scratch buffer `slot` (0 ≤ slot < CK_SCRATCH_SLOTS) of the calling thread, at least `bytes`
/// long, kept and reused by later calls (NULL when memory runs out).
void *ck_scratch(int slot, size_t bytes);
/// c (m, n) = a · op(b) in s32, exactly: a (m, k) u8 with row stride lda, b s8 (n, k) when
/// transb is 'T' or (k, n) when 'N', row stride ldb; c has row stride n. oneDNN's product, except
/// that where the CPU has no VNNI instructions and b holds values outside [−64, 63] (oneDNN would
/// sum byte pairs in saturating 16 bits) it runs widened to s16 (ck_gemm_u8s16). Returns 0, or
/// < 0 when oneDNN fails or memory runs out.
int ck_gemm_u8s8s32(char transb, long m, long n, long k, const uint8_t *a, long lda, const int8_t *b, long ldb, int32_t *c);
/// Whether u8·s8 products of levels outside [−64, 63] are widened to s16 here (no VNNI, or forced).
int ck_gemm_u8s8_widens(void);
/// Whether any of count s8 values lies outside [−64, 63] (a u8·s8 byte pair sum may then saturate s16).
int ck_s8_saturates_pairs(const int8_t *b, long count);
/// 1: ck_gemm_u8s8s32 always widens (as on a CPU without VNNI), 0: never, −1: by the CPU (default).
void ck_set_gemm_u8s8_widen(int mode);
/// s16 elements of an (n, k) operand packed by ck_s16_pack (n up to 24 columns, k up to pairs).
long ck_s16_packed_count(long n, long k);
/// b s8 ((n, k) when transb is 'T', (k, n) when 'N', row stride ldb) widened to s16 and packed
/// for ck_gemm_u8s16: panels of 24 columns, k in pairs, zeros past the edges.
void ck_s16_pack(char transb, long n, long k, const int8_t *b, long ldb, int16_t *packed);
/// c (m, n) = a · b in s32, exactly, on AVX2 (s16 pairs summed into s32 by vpmaddwd): a (m, k) u8
/// with row stride lda, b packed by ck_s16_pack; c has row stride n. Returns 0, or −1 when
/// memory runs out.
int ck_gemm_u8s16(long m, long n, long k, const uint8_t *a, long lda, const int16_t *packed, int32_t *c);
/// Whether the CPU has VNNI (AVX-512 VNNI or AVX-VNNI): u8·s8 dot products into s32 in one instruction.
int ck_cpu_has_vnni(void);
/// y (m, n) = out_scale[j] · (Σ_k (u[i,k] − za)(t[j,k] + o[j] − zw[j]) + c[i,j]) + bias[j], where
/// u = the levels of the input x (m, k) (ck_quantize_u8 at scale sa, integer zero za = zero, clamped at
/// umax; ck_quantize_u8_clamps when `fractional`), the stored weight levels are t = q − o (s8),
/// tsum[j] = Σ_k t[j,k], offset_minus_zw[j] = o[j] − zw[j]. c (a fractional input zero point
/// only) = Σ_k e[i,k]·wt[k,j] with e = e_low or e_high where u was clamped below or above, wt
/// (k, n) = q − zw as float. Then y += residual (m, n) when residual is not NULL, y = GELU(y) when
/// gelu is set. t: (n, k) s8; t_wide (or NULL): t packed once by ck_s16_pack, used where the
/// product widens. Returns 0, or < 0 when oneDNN fails or memory runs out.
int ck_int8_linear(int m, int n, int k, const float *x, float sa, float zero, float umax, int fractional,
                   const int8_t *t, const int16_t *t_wide, const int32_t *tsum,
                   const int32_t *offset_minus_zw, const float *out_scale,
                   const float *bias, float *y, float e_low, float e_high, const float *wt, const float *residual,
                   int gelu);

// ---- Integer execution of quantized attention (attention_int8.c) ----
/// The calibrated quantizers of one attention: uniform Q, K, V (x_q = clamp(round(x/s) + z, 0,
/// qmax), z integer, one bit-width; K and V stored as x_q − o, o = 2^(b−1)) and the log√2
/// quantizer of the probabilities (pbits, Δ, the mantissa thresholds t1/t3, its level table).
typedef struct {
  float sq, zq, sk, zk, sv, zv, qmax, o;
  int pbits;
  float delta;
  uint32_t t1, t3;
  const float *table;  // 2^pbits + 1 values: 2^(−⌈l/2⌉)·(1 + (√2 − 1)·(l mod 2)), then 0 (the zero level)
  float sqrt2;         // Float(√2), as the table has it
} ck_int8_attention_quant;
/// Items it = b·H + h in [lo, hi) of qkv (B, N, 3·H·hd) → ctx (B, N, H·hd), heads merged:
/// ctx = log√2(softmax(scale·Q̂·K̂ᵀ + bias[h] + mask[(b0 + b) mod nW]))·V̂ with Q̂·K̂ᵀ in u8·s8 → s32
/// integers, and P̂·V̂ too when pbits ≤ 4 (b0: the batch index of qkv's first item, for the mask).
/// Returns 0, or < 0 when oneDNN fails or memory runs out.
int ck_int8_attention_forward(const float *qkv, const float *bias, const float *mask, long nw, float *ctx, long n,
                              long heads, long hd, float scale, const ck_int8_attention_quant *qz, long lo, long hi,
                              long b0);

#endif
