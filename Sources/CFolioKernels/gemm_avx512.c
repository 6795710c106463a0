#include "packed_layout.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { ROWS = 8 };

// One tile: `rows` (1 ... ROWS) rows of A times one panel. The hot loop: per row of the
// panel, two 16-float loads of B and two fused multiply-adds per tile row, with A's element
// broadcast straight from memory; 16 accumulators hide the FMA latency. `rows` is a
// compile-time constant at each call below, so the loops over it unroll.
static inline FOLIO_AVX512 void tile(int rows, int k, const float *a, int lda, const float *panel, const float *bias, float *c,
                                     int ldc, int accumulate, __mmask16 low, __mmask16 high) {
    __m512 sum0[ROWS], sum1[ROWS];
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(low, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias ? _mm512_maskz_loadu_ps(high, bias + 16) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) {
        sum0[r] = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(low, c + (size_t)r * ldc), bias0) : bias0;
        sum1[r] = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(high, c + (size_t)r * ldc + 16), bias1) : bias1;
    }
    for (int kk = 0; kk < k; kk++) {
        __m512 w0 = _mm512_loadu_ps(panel + (size_t)kk * PANEL);
        __m512 w1 = _mm512_loadu_ps(panel + (size_t)kk * PANEL + 16);
        for (int r = 0; r < rows; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)r * lda + kk]);
            sum0[r] = _mm512_fmadd_ps(x, w0, sum0[r]);
            sum1[r] = _mm512_fmadd_ps(x, w1, sum1[r]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, low, sum0[r]);
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, high, sum1[r]);
    }
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
            const float *panel = packed + (size_t)p * PANEL * k;
            int columns = folio_panel_columns(n, p);
            __mmask16 low = columns >= 16 ? 0xFFFF : (__mmask16)((1u << columns) - 1);
            __mmask16 high = columns >= PANEL ? 0xFFFF : columns <= 16 ? 0 : (__mmask16)((1u << (columns - 16)) - 1);
            const float *panelBias = bias ? bias + p * PANEL : NULL;
            float *out = c + (size_t)r * ldc + p * PANEL;
            if (rows == ROWS) {
                tile(ROWS, k, a + (size_t)r * lda, lda, panel, panelBias, out, ldc, accumulate, low, high);
            } else {
                // The rare path: the last rows when m is not a multiple of 8 (odd batch sizes,
                // an epoch's last batch), as tiles of 4, 2 and 1 rows (rows < 8).
                int done = 0;
                for (int size = 4; size >= 1; size /= 2) {
                    if (!(rows & size)) continue;
                    const float *from = a + (size_t)(r + done) * lda;
                    float *to = out + (size_t)done * ldc;
                    switch (size) {  // constant sizes, so that each tile's loops unroll
                    case 4: tile(4, k, from, lda, panel, panelBias, to, ldc, accumulate, low, high); break;
                    case 2: tile(2, k, from, lda, panel, panelBias, to, ldc, accumulate, low, high); break;
                    default: tile(1, k, from, lda, panel, panelBias, to, ldc, accumulate, low, high);
                    }
                    done += size;
                }
            }
        }
    }
}
#endif
