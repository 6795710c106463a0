// The packed layout of B that every `gemm_packed` path reads (private to this target).
//
// Panels of PANEL = 32 columns; panel p holds, for each of the k rows of B, its columns
// 32p ..< 32p + 32 (zeros past n), so a panel is k x 32 contiguous floats. A panel row is
// two AVX-512 vectors, four AVX2 vectors or eight 4-float ones: one layout serves all paths.
#ifndef FOLIO_PACKED_LAYOUT_H
#define FOLIO_PACKED_LAYOUT_H

#include "folio_kernels.h"

enum { PANEL = 32 };

// Rows of A and B that `gemm_at` takes at a time: 32 columns of B over them (16 KiB) stay in
// L1 while every row tile of C passes over them.
enum { FOLIO_AT_K_BLOCK = 128 };

static inline int folio_panels(int n) { return (n + PANEL - 1) / PANEL; }

// Columns of B in panel p: PANEL but in the last one.
static inline int folio_panel_columns(int n, int p) { return n - p * PANEL < PANEL ? n - p * PANEL : PANEL; }

// Where a tile's sums start, for the columns of a partial panel (the rare path: the last
// panel when n is not a multiple of 32): `start[r][j]` = [C] + [bias] for `columns` columns,
// zeros past them, as the full path computes it (C + bias, one rounding).
static inline void folio_partial_start(int rows, int columns, int width, const float *bias, const float *c, int ldc,
                                       int accumulate, float *start) {
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < width; j++) {
            float value = j < columns && bias ? bias[j] : 0;
            start[r * width + j] = j < columns && accumulate ? c[(size_t)r * ldc + j] + value : value;
        }
    }
}

// Writes back the `columns` valid columns of a partial tile's sums.
static inline void folio_partial_store(int rows, int columns, int width, const float *sums, float *c, int ldc) {
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < columns; j++) c[(size_t)r * ldc + j] = sums[r * width + j];
    }
}

// Each path's entry points (gemm_*.c, lstm_rows.c, fma_peak.c), gathered by kernel_set.c.
#define FOLIO_PATH_DECLARATIONS(suffix)                                                                                         \
    void folio_gemm_packed_##suffix(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias,    \
                                    float *c, int ldc, int accumulate);                                                      \
    void folio_gemm_at_##suffix(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc);     \
    void folio_lstm_forward_row_##suffix(float *gates, const float *c_prev, float *c, float *h, int units);                   \
    void folio_lstm_backward_row_##suffix(float *gates, const float *c, const float *c_prev, const float *dh, float *dc,       \
                                          int units);                                                                        \
    void folio_adam_update_##suffix(float *w, const float *g, float *m, float *v, long count, float alpha, float beta1,       \
                                    float beta2, float epsilon);                                                             \
    double folio_fma_chains_##suffix(long iterations);                                                                       \
    void folio_negative_sampling_##suffix(const float *input, float *const *rows, int count, int dim, float rate,           \
                                          float *gradient);                                                                  \
    void folio_add_scaled_##suffix(float *y, const float *x, float a, int n);

FOLIO_PATH_DECLARATIONS(generic)
#if defined(__x86_64__)
FOLIO_PATH_DECLARATIONS(avx2)
FOLIO_PATH_DECLARATIONS(avx512)
#define FOLIO_AVX2 __attribute__((target("avx2,fma")))
#define FOLIO_AVX512 __attribute__((target("avx512f")))
#endif

#endif
