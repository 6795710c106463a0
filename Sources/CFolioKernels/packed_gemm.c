#include "folio_kernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// C = [C] + [bias] + A * B with B packed once: the products of a recurrent layer multiply
// many small row blocks (a lane's rows at one step, one sequence's steps) by the same
// weight matrix. A general GEMM (OpenBLAS) packs that matrix again on every call, which
// cost the reference LSTM about a sixth of its training time; here it is packed once per
// forward or backward pass.
//
// Packed layout: panels of PANEL = 32 columns; panel p holds, for each of the k rows
// of B, its columns 32p ..< 32p + 32 (zeros past n), so a panel is k x 32 contiguous floats.

enum { PANEL = 32, ROWS = 8 };

static int panels(int n) { return (n + PANEL - 1) / PANEL; }

// Columns of B in panel p: PANEL but in the last one.
static int panel_columns(int n, int p) { return n - p * PANEL < PANEL ? n - p * PANEL : PANEL; }

size_t folio_packed_count(int k, int n) { return (size_t)panels(n) * PANEL * (size_t)k; }

void folio_pack(const float *b, int k, int n, int ldb, int transposed, float *packed) {
    for (int p = 0; p < panels(n); p++) {
        float *panel = packed + (size_t)p * PANEL * k;
        int columns = panel_columns(n, p);
        for (int row = 0; row < k; row++) {
            float *to = panel + (size_t)row * PANEL;
            for (int j = 0; j < columns; j++) {
                int column = p * PANEL + j;
                to[j] = transposed ? b[(size_t)column * ldb + row] : b[(size_t)row * ldb + column];
            }
            for (int j = columns; j < PANEL; j++) to[j] = 0;
        }
    }
}

#if defined(__x86_64__)
// AVX-512 has its own path below, so the plain one is cloned for AVX2 and baseline only.
#define PLAIN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PLAIN_CLONES
#endif

// The plain path, for CPUs without AVX-512 (and the tests' second opinion): the same sums
// in the same order, a panel row at a time (the compiler vectorizes the 32 columns).
PLAIN_CLONES
void folio_gemm_packed_generic(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias, float *c,
                               int ldc, int accumulate) {
    for (int p = 0; p < panels(n); p++) {
        const float *panel = packed + (size_t)p * PANEL * k;
        int columns = panel_columns(n, p);
        for (int r = 0; r < m; r++) {
            const float *row = a + (size_t)r * lda;
            float *out = c + (size_t)r * ldc + p * PANEL;
            float sums[PANEL];
            for (int j = 0; j < PANEL; j++) {
                float start = accumulate && j < columns ? out[j] : 0;
                sums[j] = bias && j < columns ? start + bias[p * PANEL + j] : start;
            }
            for (int kk = 0; kk < k; kk++) {
                const float x = row[kk];
                const float *w = panel + (size_t)kk * PANEL;
                for (int j = 0; j < PANEL; j++) sums[j] += x * w[j];
            }
            for (int j = 0; j < columns; j++) out[j] = sums[j];
        }
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f")))

// One tile: `rows` (1 ... ROWS) rows of A times one panel. The hot loop: per row of the
// panel, two 16-float loads of B and two fused multiply-adds per tile row, with A's element
// broadcast straight from memory; 16 accumulators hide the FMA latency. `rows` is a
// compile-time constant at each call below, so the loops over it unroll.
static inline AVX512 void tile(int rows, int k, const float *a, int lda, const float *panel, const float *bias, float *c, int ldc,
                               int accumulate, __mmask16 low, __mmask16 high) {
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
static AVX512 void gemm_packed_avx512(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias, float *c,
                                      int ldc, int accumulate) {
    for (int r = 0; r < m; r += ROWS) {
        int rows = m - r < ROWS ? m - r : ROWS;
        for (int p = 0; p < panels(n); p++) {
            const float *panel = packed + (size_t)p * PANEL * k;
            int columns = panel_columns(n, p);
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

void folio_gemm_packed(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias, float *c, int ldc,
                       int accumulate) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) {
        gemm_packed_avx512(m, n, k, a, lda, packed, bias, c, ldc, accumulate);
        return;
    }
#endif
    folio_gemm_packed_generic(m, n, k, a, lda, packed, bias, c, ldc, accumulate);
}
