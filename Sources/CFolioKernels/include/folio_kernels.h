// Folio's own numeric kernels: the LSTM's products with a packed weight matrix and its
// weight gradients' products, its per-row gate loops, Adam's update, word2vec's
// negative-sampling update, and a measure of the CPU's FMA peak. In C for one reason: a C
// function can be compiled for several instruction sets in one library and picked at run
// time, which Swift code cannot. Each kernel exists once per path:
//
// - FOLIO_ISA_AVX512: AVX-512F (16-float vectors, 32 registers);
// - FOLIO_ISA_AVX2:   AVX2 + FMA (8-float vectors, 16 registers), the common x86 server,
//                     desktop and laptop CPU;
// - FOLIO_ISA_GENERIC: portable C (vector extensions that the compiler maps to the target:
//                     NEON on arm64, SSE2 on baseline x86-64).
//
// FolioNN's `KernelSet` picks one (the widest the CPU runs, or `FOLIO_ISA`); its
// `LSTMRows` and `Gemm.referenceSgemm` are the plain twins the tests compare every path
// with. Only plain pointers and ints cross here.
//
// Every path sums each output element in the same order (the start value, then k in
// order), so results never depend on how rows are split between threads. The AVX-512 and
// AVX2 paths (and the generic one where the target fuses multiply-adds, as on arm64) are
// written to round alike; the generic path on x86-64 (no FMA) differs in the last bits.
//
// Beside them, one allocator setting (glibc's mallopt) that Swift's Glibc module does not
// export, and CRC-32C with the CPU's crc32 instruction (crc32c.c).
#ifndef FOLIO_KERNELS_H
#define FOLIO_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FOLIO_ISA_GENERIC = 0, FOLIO_ISA_AVX2 = 1, FOLIO_ISA_AVX512 = 2 } folio_isa;

/// C = [C] + [bias] + A · B for m rows: A is m x k (row r at `a + r * lda`), B was packed by
/// `folio_pack`, C is m x n (row r at `c + r * ldc`), `bias` (n floats) may be NULL, and
/// C's old values are added only when `accumulate` is nonzero.
typedef void (*folio_gemm_packed_fn)(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias,
                                     float *c, int ldc, int accumulate);

/// C += Aᵀ · B (a weight gradient): A is k x m (row kk at `a + kk * lda`), B is k x n (row kk
/// at `b + kk * ldb`, read as it lies, not packed), C is m x n (row r at `c + r * ldc`). Each
/// element's sum goes on from C's value over k in order, as `gemm_packed`'s do.
typedef void (*folio_gemm_at_fn)(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc);

/// One row of one LSTM step. `gates` holds the pre-activations i, f, g, o (4 x units) and
/// receives their activated values; c = f * c_prev + i * g and h = o * tanh(c).
typedef void (*folio_lstm_forward_row_fn)(float *gates, const float *c_prev, float *c, float *h, int units);

/// One row of one LSTM step backward: `gates` holds the activated i, f, g, o and receives
/// the gradients of their pre-activations; `dh` is the gradient reaching h (read), `dc`
/// the one reaching c (read, then replaced by the one reaching c_prev).
typedef void (*folio_lstm_backward_row_fn)(float *gates, const float *c, const float *c_prev, const float *dh, float *dc,
                                           int units);

/// Adam's update for `count` parameters, as `Adam` (FolioNN) describes it: m and v move
/// towards g and g², then w -= alpha * m / (sqrt(v) + epsilon).
typedef void (*folio_adam_update_fn)(float *w, const float *g, float *m, float *v, long count, float alpha, float beta1,
                                     float beta2, float epsilon);

/// word2vec's negative-sampling update of one input vector against `count` output rows, the
/// first the true word (label 1), the others noise words (label 0). For each row o in order:
/// f = input · o, g = rate · (label − σ(f)), gradient += g · o (o before it moves), then
/// o += g · input. `gradient` (dim floats) is set, not added to: the caller adds it to the
/// input row(s). The rows must be distinct and none may be `input` or `gradient`.
typedef void (*folio_negative_sampling_fn)(const float *input, float *const *rows, int count, int dim, float rate,
                                           float *gradient);

/// y += a · x over n floats.
typedef void (*folio_add_scaled_fn)(float *y, const float *x, float a, int n);

/// One path's kernels.
typedef struct {
    folio_isa isa;
    const char *name;  // "avx512", "avx2", "generic": what FOLIO_ISA takes
    folio_gemm_packed_fn gemm_packed;
    folio_gemm_at_fn gemm_at;
    folio_lstm_forward_row_fn lstm_forward_row;
    folio_lstm_backward_row_fn lstm_backward_row;
    folio_adam_update_fn adam_update;
    /// Runs `iterations` rounds of independent FMA chains on this path's widest vectors
    /// and returns the floating-point operations done (2 per lane per multiply-add), for
    /// a caller that times it: the CPU's peak for this path.
    double (*fma_chains)(long iterations);
    folio_negative_sampling_fn negative_sampling;
    folio_add_scaled_fn add_scaled;
} folio_kernels;

/// 1 when this CPU (and its operating system) runs `isa`'s instructions.
int folio_isa_supported(folio_isa isa);

/// The kernels of `isa`, or NULL when this CPU cannot run them (or they are not compiled
/// for this architecture).
const folio_kernels *folio_kernels_for(folio_isa isa);

/// Floats that `folio_pack` writes for a k x n matrix B: panels of 32 columns, zero-padded.
size_t folio_packed_count(int k, int n);

/// Packs B (k x n) for the `gemm_packed` kernels. B's row r starts at `b + r * ldb`; when
/// `transposed` is nonzero, `b` holds Bᵀ instead (n x k, row j at `b + j * ldb`).
void folio_pack(const float *b, int k, int n, int ldb, int transposed, float *packed);

/// Lets the C allocator keep freed blocks of up to `largest_block` bytes, and up to
/// `retained` free bytes in all, for reuse instead of handing their pages back to the system
/// (glibc's mmap and trim thresholds; elsewhere nothing). Returns 1 when it was applied.
int folio_keep_freed_memory(size_t largest_block, size_t retained);

/// Whether folio_crc32c_update runs here (x86-64 with SSE 4.2); 0 elsewhere.
int folio_crc32c_hardware(void);
/// CRC-32C's running state (not inverted: the caller inverts before and after) over `count`
/// bytes, with the CPU's crc32 instruction. Only where folio_crc32c_hardware() is 1.
uint32_t folio_crc32c_update(uint32_t crc, const void *bytes, size_t count);

/// Gives the free memory of every heap arena back to the kernel (glibc's malloc_trim); 1 if
/// some was given back, 0 if none or where the C library cannot.
int folio_release_freed_memory(void);

/// Asks the CPU to start loading the `count` floats at `row` into its caches (a hint: no
/// effect on any value). Inline, so that Swift's loops over table rows call no function.
static inline void folio_prefetch_row(const float *row, int count) {
    for (int offset = 0; offset < count; offset += 16) __builtin_prefetch(row + offset);
}

#ifdef __cplusplus
}
#endif

#endif
