// The exponential and the logistic function as the LSTM's gate loops and word2vec's update
// compute them: straight-line code with no calls, so that loops over them vectorize.
// Private to this target.
#ifndef FOLIO_FAST_MATH_H
#define FOLIO_FAST_MATH_H

#include <stdint.h>
#include <string.h>

#define BODY static inline __attribute__((always_inline))

// exp(x) = 2^n e^r, n = round(x / ln 2), as Activations.swift computes it (the same
// constants, so both sides agree to rounding): round by adding and removing 1.5 * 2^23,
// whose sum then holds n in its low mantissa bits; e^r by its degree-6 Taylor polynomial.
BODY float fast_exp(float x) {
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

BODY float fast_sigmoid(float x) { return 1 / (1 + fast_exp(-x)); }

#endif
