#include "packed_layout.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { ROWS = 8 };

// One tile: `rows` (1 ... ROWS) rows of C times 32 columns. Row r's element kk of A is at
// `a + r * rowStride + kk * kStride` (A itself: stride lda, 1; Aᵀ: 1, lda), B's row kk at
// `b + kk * bStride` (a packed panel's: PANEL). The hot loop: per row of B, two 16-float
// loads and two fused multiply-adds per tile row, with A's element broadcast straight from
// memory; 16 accumulators hide the FMA latency. `rows` and, for the packed product, the
// strides are compile-time constants at each call, so the loops unroll and the addressing
// folds. B is read 32 floats a row whatever n is: both callers pad it with zeros.
static inline __attribute__((always_inline)) FOLIO_AVX512 void tile(
    int rows, int k, const float *a, size_t rowStride, size_t kStride, const float *b, size_t bStride, const float *bias,
    float *c, int ldc, int accumulate, __mmask16 low, __mmask16 high) {
    __m512 sum0[ROWS], sum1[ROWS];
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(low, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_maskz_loadu_ps(high, bias + 16) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) {
        sum0[r] = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(low, c + (size_t)r * ldc), bias0) : bias0;
        sum1[r] = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(high, c + (size_t)r * ldc + 16), bias1) : bias1;
    }
    for (int kk = 0; kk < k; kk++) {
        __m512 w0 = _mm512_loadu_ps(b + (size_t)kk * bStride);
        __m512 w1 = _mm512_loadu_ps(b + (size_t)kk * bStride + 16);
        for (int r = 0; r < rows; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)r * rowStride + (size_t)kk * kStride]);
            sum0[r] = _mm512_fmadd_ps(x, w0, sum0[r]);
            sum1[r] = _mm512_fmadd_ps(x, w1, sum1[r]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, low, sum0[r]);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, high, sum1[r]);
    }
}

// `rows` (1 ... ROWS) rows of C times 32 columns, as one full tile or, on the rare path (the
// last rows when m is not a multiple of 8: odd batch sizes, an epoch's last batch, layers
// of other widths), as tiles of 4, 2 and 1 rows, each of constant height.
static inline __attribute__((always_inline)) FOLIO_AVX512 void row_block(
    int rows, int k, const float *a, size_t rowStride, size_t kStride, const float *b, size_t bStride, const float *bias,
    float *c, int ldc, int accumulate, __mmask16 low, __mmask16 high) {
    if (rows == ROWS) {
        tile(ROWS, k, a, rowStride, kStride, b, bStride, bias, c, ldc, accumulate, low, high);
        return;
    }
    int done = 0;
    for (int size = 4; size >= 1; size /= 2) {
        if (!(rows & size)) continue;
        const float *from = a + (size_t)done * rowStride;
        float *to = c + (size_t)done * ldc;
        switch (size) {
        case 4: tile(4, k, from, rowStride, kStride, b, bStride, bias, to, ldc, accumulate, low, high); break;
        case 2: tile(2, k, from, rowStride, kStride, b, bStride, bias, to, ldc, accumulate, low, high); break;
        default: tile(1, k, from, rowStride, kStride, b, bStride, bias, to, ldc, accumulate, low, high);
        }
        done += size;
    }
}

static inline __mmask16 low_mask(int columns) { return columns >= 16 ? 0xFFFF : (__mmask16)((1u << columns) - 1); }
static inline __mmask16 high_mask(int columns) {
    return columns >= PANEL ? 0xFFFF : columns <= 16 ? 0 : (__mmask16)((1u << (columns - 16)) - 1);
}

// Row blocks outside, panels inside: a block of A (8 rows; a step's gate gradients are
// 2 KiB each) stays in L1 while the packed B, contiguous, streams from L2. The other order
// read A once per panel, and A's rows often lie a power of two apart (one step of a
// time-major batch), so they shared a few cache sets and came back from L3 each time.
FOLIO_AVX512 void folio_gemm_packed_avx512(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias,
                                           float *c, int ldc, int accumulate) {
    for (int r = 0; r < m; r += ROWS) {
        int rows = m - r < ROWS ? m - r : ROWS;
        for (int p = 0; p < folio_panels(n); p++) {
            int columns = folio_panel_columns(n, p);
            row_block(rows, k, a + (size_t)r * lda, lda, 1, packed + (size_t)p * PANEL * k, PANEL, bias ? bias + p * PANEL : NULL,
                      c + (size_t)r * ldc + p * PANEL, ldc, accumulate, low_mask(columns), high_mask(columns));
        }
    }
}

// C += Aᵀ · B (a weight gradient: A = inputs, B = output gradients, k = rows of both).
// Blocks of FOLIO_AT_K_BLOCK rows of A and B outside; then, for each 32 columns of B, those
// rows' 32 floats are copied into a slab (16 KiB, aligned, zero-padded past column n) that
// every row tile of C then reads from L1. Read where it lies instead, B's rows (2 KiB apart
// for 512 columns) fell into 4 of L1's 64 sets and came from L2 every time, and a B not
// aligned to 64 bytes split every load across two lines. One core of the Xeon, 128 x 512
// over k = 2,048 / 12,800 rows: 147 / 129-133 GFLOP/s (84 / 74-76 % of the FMA peak);
// read in place, 134 / 124 (aligned B) and 116 / 111 (not); OpenBLAS's SkylakeX sgemm
// 125 / 118-121. Each element's sum goes on from C in k's order, block after block.
FOLIO_AVX512 void folio_gemm_at_avx512(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    float slab[FOLIO_AT_K_BLOCK * PANEL] __attribute__((aligned(64)));
    for (int first = 0; first < k; first += FOLIO_AT_K_BLOCK) {
        int rows = k - first < FOLIO_AT_K_BLOCK ? k - first : FOLIO_AT_K_BLOCK;
        const float *aBlock = a + (size_t)first * lda, *bBlock = b + (size_t)first * ldb;
        for (int j = 0; j < n; j += PANEL) {
            int columns = n - j < PANEL ? n - j : PANEL;
            __mmask16 low = low_mask(columns), high = high_mask(columns);
            for (int kk = 0; kk < rows; kk++) {
                const float *from = bBlock + (size_t)kk * ldb + j;
                _mm512_store_ps(slab + kk * PANEL, _mm512_maskz_loadu_ps(low, from));
                _mm512_store_ps(slab + kk * PANEL + 16, _mm512_maskz_loadu_ps(high, from + 16));
            }
            for (int r = 0; r < m; r += ROWS) {
                row_block(m - r < ROWS ? m - r : ROWS, rows, aBlock + r, 1, lda, slab, PANEL, NULL, c + (size_t)r * ldc + j, ldc, 1,
                          low, high);
            }
        }
    }
}
#endif
