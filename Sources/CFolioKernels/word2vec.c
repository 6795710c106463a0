#include "fast_math.h"
#include "gemm_vector.h"

// word2vec's inner loop (Mikolov et al. 2013, negative sampling), written once and
// compiled once per path like the LSTM's gate loops. Per output row: one dot product (a
// reduction, so written in 8-float vectors: the compiler may not reorder a float sum by
// itself), one logistic function, then two fused scaled additions in one pass. With the
// usual 100 to 300 dimensions every row sits in L1 for the whole update.

BODY float dot(const float *restrict a, const float *restrict b, int n) {
    folio_v8 s0 = {0, 0, 0, 0, 0, 0, 0, 0}, s1 = s0;
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        s0 = folio_v8_load(a + j) * folio_v8_load(b + j) + s0;
        s1 = folio_v8_load(a + j + 8) * folio_v8_load(b + j + 8) + s1;
    }
    for (; j + 8 <= n; j += 8) s0 = folio_v8_load(a + j) * folio_v8_load(b + j) + s0;
    folio_v8 s = s0 + s1;
    float total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; j < n; j++) total += a[j] * b[j];
    return total;
}

BODY void negative_sampling(const float *restrict input, float *const *rows, int count, int dim, float rate,
                            float *restrict gradient) {
    for (int j = 0; j < dim; j++) gradient[j] = 0;
    for (int r = 0; r < count; r++) {
        float *restrict row = rows[r];
        float label = r == 0 ? 1.0f : 0.0f;
        float g = rate * (label - fast_sigmoid(dot(input, row, dim)));
        for (int j = 0; j < dim; j++) {
            gradient[j] += g * row[j];
            row[j] += g * input[j];
        }
    }
}

BODY void add_scaled(float *restrict y, const float *restrict x, float a, int n) {
    for (int j = 0; j < n; j++) y[j] += a * x[j];
}

#define WORD2VEC_KERNELS(suffix, attribute)                                                                                   \
    attribute void folio_negative_sampling_##suffix(const float *input, float *const *rows, int count, int dim, float rate,  \
                                                     float *gradient) {                                                      \
        negative_sampling(input, rows, count, dim, rate, gradient);                                                           \
    }                                                                                                                         \
    attribute void folio_add_scaled_##suffix(float *y, const float *x, float a, int n) { add_scaled(y, x, a, n); }

WORD2VEC_KERNELS(generic, )
#if defined(__x86_64__)
WORD2VEC_KERNELS(avx2, FOLIO_AVX2)
WORD2VEC_KERNELS(avx512, FOLIO_AVX512)
#endif
