#include "folio_kernels.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
// One copy of each kernel per instruction set, chosen when the library loads (ifunc).
#define FOLIO_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FOLIO_CLONES
#endif

// exp(x) = 2^n e^r, n = round(x / ln 2), as Activations.swift computes it (the same
// constants, so both sides agree to rounding): round by adding and removing 1.5 * 2^23,
// whose sum then holds n in its low mantissa bits; e^r by its degree-6 Taylor polynomial.
// Straight-line code with no calls and no branches, so the loops below vectorize.
static inline float fast_exp(float x) {
    float clamped = x > 88.3f ? 88.3f : x;
    clamped = clamped < -87.3f ? -87.3f : clamped;
    const float magic = 12582912.0f;
    float shifted = clamped * 1.44269504f + magic;
    float n = shifted - magic;
    float r = clamped - n * 0.693145751953125f - n * 1.428606765330187e-6f;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1;
    p = p * r + 1;
    uint32_t bits, magic_bits;
    memcpy(&bits, &shifted, 4);
    memcpy(&magic_bits, &magic, 4);
    uint32_t scale_bits = (bits - magic_bits + 127u) << 23;
    float scale;
    memcpy(&scale, &scale_bits, 4);
    return p * scale;
}

static inline float fast_sigmoid(float x) { return 1 / (1 + fast_exp(-x)); }
static inline float fast_tanh(float x) { return 1 - 2 / (fast_exp(2 * x) + 1); }

FOLIO_CLONES
void folio_lstm_forward_row(float *restrict gates, const float *restrict c_prev, float *restrict c, float *restrict h, int units) {
    float *restrict gi = gates, *restrict gf = gates + units, *restrict gg = gates + 2 * units, *restrict go = gates + 3 * units;
    for (int j = 0; j < units; j++) {
        float i = fast_sigmoid(gi[j]), f = fast_sigmoid(gf[j]), g = fast_tanh(gg[j]), o = fast_sigmoid(go[j]);
        gi[j] = i;
        gf[j] = f;
        gg[j] = g;
        go[j] = o;
        float cj = f * c_prev[j] + i * g;
        c[j] = cj;
        h[j] = o * fast_tanh(cj);
    }
}

FOLIO_CLONES
void folio_lstm_backward_row(float *restrict gates, const float *restrict c, const float *restrict c_prev, const float *restrict dh,
                             float *restrict dc, int units) {
    float *restrict gi = gates, *restrict gf = gates + units, *restrict gg = gates + 2 * units, *restrict go = gates + 3 * units;
    for (int j = 0; j < units; j++) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j];
        float tanh_c = fast_tanh(c[j]);
        float dcj = dc[j] + dh[j] * o * (1 - tanh_c * tanh_c);
        gi[j] = dcj * g * i * (1 - i);
        gf[j] = dcj * c_prev[j] * f * (1 - f);
        gg[j] = dcj * i * (1 - g * g);
        go[j] = dh[j] * tanh_c * o * (1 - o);
        dc[j] = dcj * f;
    }
}

const char *folio_kernels_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2")) return "avx2";
#endif
    return "default";
}

FOLIO_CLONES
void folio_adam_update(float *restrict w, const float *restrict g, float *restrict m, float *restrict v, long count, float alpha,
                       float beta1, float beta2, float epsilon) {
    for (long index = 0; index < count; index++) {
        float gradient = g[index];
        float first = m[index] + (gradient - m[index]) * (1 - beta1);
        float second = v[index] + (gradient * gradient - v[index]) * (1 - beta2);
        m[index] = first;
        v[index] = second;
        // The elementwise builtin has no errno to set, so the loop vectorizes.
        w[index] -= alpha * first / (__builtin_elementwise_sqrt(second) + epsilon);
    }
}
