// The packed product written once in C vector extensions (8-float vectors), instantiated by
// gemm_avx2.c (AVX2 + FMA: one register per vector) and gemm_portable.c (the generic path:
// two NEON or two SSE registers per vector). Private to this target.
//
// A tile is `rows` rows of A times half a panel (16 columns): 2 x rows accumulators. With
// 6 rows that is 12 of AVX2's 16 registers, leaving two for B's row and one for A's
// broadcast element. The hot loop, per row of the panel: two 8-float loads of B, then per
// tile row one broadcast of A's element and two multiply-adds (`x * w + sum` is one
// expression, so the compiler fuses it where the target has FMA: AVX2 + FMA, arm64). Each
// sum starts at [C] + [bias] and adds k's terms in order, as the AVX-512 path does.
#ifndef FOLIO_GEMM_VECTOR_H
#define FOLIO_GEMM_VECTOR_H

#include "packed_layout.h"

typedef float folio_v8 __attribute__((vector_size(32)));
typedef float folio_v8_unaligned __attribute__((vector_size(32), aligned(4)));

enum { HALF_PANEL = 16, MAX_TILE_ROWS = 6 };

#define FOLIO_INLINE static inline __attribute__((always_inline))

// Macros, not functions: an 8-float vector passed to or returned from a function compiled
// without AVX changes the ABI, and compilers warn so even where the call is inlined.
#define folio_v8_load(p) (*(const folio_v8_unaligned *)(p))
#define folio_v8_store(p, v) (*(folio_v8_unaligned *)(p) = (v))

// `rows` (a compile-time constant at every call, so the loops over it unroll and the sums
// stay in registers) rows of C times the 16 columns of B at `w`, `columns` of which
// (1 ... 16) are real, B's row kk at `w + kk * wStride` (a packed panel's: PANEL). Row r's
// element kk of A is at `a + r * rowStride + kk * kStride` (A: lda, 1; Aᵀ: 1, lda); the
// packed product's strides are constants, so its addressing folds.
FOLIO_INLINE void folio_vector_tile(int rows, int k, const float *a, size_t rowStride, size_t kStride, const float *w,
                                    size_t wStride, const float *bias, float *c, int ldc, int accumulate, int columns) {
    folio_v8 sum0[MAX_TILE_ROWS], sum1[MAX_TILE_ROWS];
    float partial[MAX_TILE_ROWS * HALF_PANEL];
    if (columns == HALF_PANEL) {
        folio_v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
        folio_v8 bias0 = bias ? folio_v8_load(bias) : zero, bias1 = bias ? folio_v8_load(bias + 8) : zero;
        for (int r = 0; r < rows; r++) {
            sum0[r] = accumulate ? folio_v8_load(c + (size_t)r * ldc) + bias0 : bias0;
            sum1[r] = accumulate ? folio_v8_load(c + (size_t)r * ldc + 8) + bias1 : bias1;
        }
    } else {
        folio_partial_start(rows, columns, HALF_PANEL, bias, c, ldc, accumulate, partial);
        for (int r = 0; r < rows; r++) {
            sum0[r] = folio_v8_load(partial + r * HALF_PANEL);
            sum1[r] = folio_v8_load(partial + r * HALF_PANEL + 8);
        }
    }
    const float *row[MAX_TILE_ROWS];
    for (int r = 0; r < rows; r++) row[r] = a + (size_t)r * rowStride;
    // Two rows of the panel per round: half the loop's own instructions per multiply-add.
    int kk = 0;
    for (; kk + 2 <= k; kk += 2, w += 2 * wStride) {
        folio_v8 w0 = folio_v8_load(w), w1 = folio_v8_load(w + 8), w2 = folio_v8_load(w + wStride), w3 = folio_v8_load(w + wStride + 8);
        for (int r = 0; r < rows; r++) {
            float x = row[r][kk * kStride];
            sum0[r] = x * w0 + sum0[r];
            sum1[r] = x * w1 + sum1[r];
        }
        for (int r = 0; r < rows; r++) {
            float x = row[r][(kk + 1) * kStride];
            sum0[r] = x * w2 + sum0[r];
            sum1[r] = x * w3 + sum1[r];
        }
    }
    if (kk < k) {
        folio_v8 w0 = folio_v8_load(w), w1 = folio_v8_load(w + 8);
        for (int r = 0; r < rows; r++) {
            float x = row[r][kk * kStride];
            sum0[r] = x * w0 + sum0[r];
            sum1[r] = x * w1 + sum1[r];
        }
    }
    if (columns == HALF_PANEL) {
        for (int r = 0; r < rows; r++) {
            folio_v8_store(c + (size_t)r * ldc, sum0[r]);
            folio_v8_store(c + (size_t)r * ldc + 8, sum1[r]);
        }
    } else {
        for (int r = 0; r < rows; r++) {
            folio_v8_store(partial + r * HALF_PANEL, sum0[r]);
            folio_v8_store(partial + r * HALF_PANEL + 8, sum1[r]);
        }
        folio_partial_store(rows, columns, HALF_PANEL, partial, c, ldc);
    }
}

// The rows of a chunk against half a panel, in tiles of constant height. A tile of h rows
// keeps 2h sums in flight, and a core needs about 8 in flight to keep its two FMA units
// busy (4 cycles of latency each), so tiles of 4 to 6 rows run at full speed and smaller
// ones do not: 32 rows go as 6 + 6 + 6 + 6 + 4 + 4, not 6 x 5 + 2 (a 2-row tile runs at a
// third of the speed). Tiles of 3, 2 and 1 rows are left only for fewer than 4 rows. On
// targets with fewer registers `block` caps the height (2 on baseline x86-64).
FOLIO_INLINE void folio_vector_half(int block, int rows, int k, const float *a, size_t rowStride, size_t kStride, const float *w,
                                    size_t wStride, const float *bias, float *c, int ldc, int accumulate, int columns) {
    int r = 0;
    while (r < rows) {
        int left = rows - r;
        int size = left >= 10 ? 6 : left == 9 ? 5 : left >= 7 ? 4 : left;
        if (size > block) size = block;
        const float *from = a + (size_t)r * rowStride;
        float *to = c + (size_t)r * ldc;
        switch (size) {  // constant heights, so that each tile's loops unroll
        case 6: folio_vector_tile(6, k, from, rowStride, kStride, w, wStride, bias, to, ldc, accumulate, columns); break;
        case 5: folio_vector_tile(5, k, from, rowStride, kStride, w, wStride, bias, to, ldc, accumulate, columns); break;
        case 4: folio_vector_tile(4, k, from, rowStride, kStride, w, wStride, bias, to, ldc, accumulate, columns); break;
        case 3: folio_vector_tile(3, k, from, rowStride, kStride, w, wStride, bias, to, ldc, accumulate, columns); break;
        case 2: folio_vector_tile(2, k, from, rowStride, kStride, w, wStride, bias, to, ldc, accumulate, columns); break;
        default: folio_vector_tile(1, k, from, rowStride, kStride, w, wStride, bias, to, ldc, accumulate, columns);
        }
        r += size;
    }
}

// Bytes of A that a chunk of rows may take: with half a panel of B (16 floats a row of k)
// it must stay in a 32 KiB L1 data cache.
enum { A_CHUNK_BYTES = 16 << 10 };

// The whole product. A is taken in chunks of rows that fit in L1 beside half a panel of B;
// within a chunk, B is walked once, half a panel at a time, and every tile of the chunk
// passes over that half-panel while it is in L1. Walking all of B for each tile instead
// (as the AVX-512 path does) read B from L2 once per six rows: an LSTM step's two 256 KiB
// kernels do not both fit in L2, so they came from L3. The order of the sums in each
// element is the same either way. (Blocking k as well, for the backward products' k of
// 512, was tried: no gain measured.) A chunk is never less than two 6-row tiles, though A
// then overflows L1 for k >= 512: the 4 + 4 tiles that 8 rows of k = 512 got ran at 76-78 %
// of the FMA peak, 6 + 6 at 85-86 % (Zen 3, dx = dz W^T and dh = dz U^T of a 128-unit LSTM;
// 18 or 24 rows gained nothing more).
FOLIO_INLINE void folio_vector_gemm(int block, int m, int n, int k, const float *a, int lda, const float *packed, const float *bias,
                                    float *c, int ldc, int accumulate) {
    int chunk = A_CHUNK_BYTES / (4 * (k > 0 ? k : 1));
    if (chunk < 2 * MAX_TILE_ROWS) chunk = 2 * MAX_TILE_ROWS;
    for (int first = 0; first < m; first += chunk) {
        int rows = m - first < chunk ? m - first : chunk;
        for (int p = 0; p < folio_panels(n); p++) {
            const float *panel = packed + (size_t)p * PANEL * k;
            int columns = folio_panel_columns(n, p);
            for (int half = 0; half * HALF_PANEL < columns; half++) {
                int offset = p * PANEL + half * HALF_PANEL;
                int real = columns - half * HALF_PANEL < HALF_PANEL ? columns - half * HALF_PANEL : HALF_PANEL;
                folio_vector_half(block, rows, k, a + (size_t)first * lda, lda, 1, panel + half * HALF_PANEL, PANEL,
                                  bias ? bias + offset : 0, c + (size_t)first * ldc + offset, ldc, accumulate, real);
            }
        }
    }
}

// C += Aᵀ · B (`gemm_at` in the kernels' header). Blocks of FOLIO_AT_K_BLOCK rows outside;
// for each half panel's 16 columns of B, those rows' columns are copied into an aligned
// slab (8 KiB, zero-padded past column n, so no load reads past a row's end) that every row
// tile of C then reads from L1: read where they lie, B's rows (2 KiB apart for 512 columns)
// share a few of L1's sets and come from L2 every time (gemm_avx512.c has the figures).
FOLIO_INLINE void folio_vector_gemm_at(int block, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                                       int ldc) {
    float slab[FOLIO_AT_K_BLOCK * HALF_PANEL] __attribute__((aligned(64)));
    for (int first = 0; first < k; first += FOLIO_AT_K_BLOCK) {
        int rows = k - first < FOLIO_AT_K_BLOCK ? k - first : FOLIO_AT_K_BLOCK;
        const float *aBlock = a + (size_t)first * lda, *bBlock = b + (size_t)first * ldb;
        for (int j = 0; j < n; j += HALF_PANEL) {
            int columns = n - j < HALF_PANEL ? n - j : HALF_PANEL;
            for (int kk = 0; kk < rows; kk++) {
                const float *from = bBlock + (size_t)kk * ldb + j;
                if (columns == HALF_PANEL) {
                    folio_v8_store(slab + kk * HALF_PANEL, folio_v8_load(from));
                    folio_v8_store(slab + kk * HALF_PANEL + 8, folio_v8_load(from + 8));
                } else {  // the rare path: the last columns when n is not a multiple of 16
                    for (int col = 0; col < HALF_PANEL; col++) slab[kk * HALF_PANEL + col] = col < columns ? from[col] : 0;
                }
            }
            folio_vector_half(block, m, rows, aBlock, 1, (size_t)lda, slab, HALF_PANEL, 0, c + j, ldc, 1, columns);
        }
    }
}

#endif
