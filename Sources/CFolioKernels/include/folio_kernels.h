// The LSTM's per-row gate loops and its products with a packed weight matrix, in C for one
// reason: a C function can be compiled for several instruction sets and pick one at load
// time (`target_clones`, or a CPU check), which Swift code cannot. Swift's SIMD types give
// SSE2 (4 floats) on baseline x86-64; these run on AVX-512 (16) or AVX2 (8) where the CPU
// has them. FolioNN's `LSTMRows` and `Gemm.referenceSgemm` are the twins the tests compare
// them with. Only plain pointers and ints cross here.
//
// Results are the same for any thread count on one machine; machines that pick different
// clones may differ in the last bits (fused multiply-adds).
//
// Beside them, one allocator setting (glibc's mallopt) that Swift's Glibc module does not
// export.
#ifndef FOLIO_KERNELS_H
#define FOLIO_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One row of one LSTM step. `gates` holds the pre-activations i, f, g, o (4 x units) and
/// receives their activated values; c = f * c_prev + i * g and h = o * tanh(c).
void folio_lstm_forward_row(float *gates, const float *c_prev, float *c, float *h, int units);

/// One row of one LSTM step backward: `gates` holds the activated i, f, g, o and receives
/// the gradients of their pre-activations; `dh` is the gradient reaching h (read), `dc`
/// the one reaching c (read, then replaced by the one reaching c_prev).
void folio_lstm_backward_row(float *gates, const float *c, const float *c_prev, const float *dh, float *dc, int units);

/// Adam's update for `count` parameters, as `Adam` (FolioNN) describes it: m and v move
/// towards g and g², then w -= alpha * m / (sqrt(v) + epsilon).
void folio_adam_update(float *w, const float *g, float *m, float *v, long count, float alpha, float beta1, float beta2,
                       float epsilon);

/// The instruction set the kernels above were picked for: "avx512f", "avx2" or "default".
const char *folio_kernels_isa(void);

/// Floats that `folio_pack` writes for a k x n matrix B: panels of 32 columns, zero-padded.
size_t folio_packed_count(int k, int n);

/// Packs B (k x n) for `folio_gemm_packed`. B's row r starts at `b + r * ldb`; when
/// `transposed` is nonzero, `b` holds Bᵀ instead (n x k, row j at `b + j * ldb`).
void folio_pack(const float *b, int k, int n, int ldb, int transposed, float *packed);

/// C = [C] + [bias] + A · B for m rows: A is m x k (row r at `a + r * lda`), B was packed by
/// `folio_pack`, C is m x n (row r at `c + r * ldc`), `bias` (n floats) may be NULL, and
/// C's old values are added only when `accumulate` is nonzero. AVX-512 where the CPU has
/// it, else `folio_gemm_packed_generic`. Each element sums over k in order, so results do
/// not depend on how rows are split between threads.
void folio_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias, float *c, int ldc,
                       int accumulate);

/// The same product without AVX-512 (tests compare both paths with a reference).
void folio_gemm_packed_generic(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias, float *c,
                               int ldc, int accumulate);

/// Lets the C allocator keep freed blocks of up to `largest_block` bytes, and up to
/// `retained` free bytes in all, for reuse instead of handing their pages back to the system
/// (glibc's mmap and trim thresholds; elsewhere nothing). Returns 1 when it was applied.
int folio_keep_freed_memory(size_t largest_block, size_t retained);

#ifdef __cplusplus
}
#endif

#endif
