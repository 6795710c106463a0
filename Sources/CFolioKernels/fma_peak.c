#include "packed_layout.h"

// The CPU's multiply-add peak on each path's widest vectors: CHAINS independent chains
// `s = s * scale + step`, more than an FMA unit's latency times its throughput on any
// current core (4 cycles x 2 units = 8 in flight on Zen 2-5 and Intel's cores since
// Haswell), so the units never wait; 12 accumulators and two constants fit AVX2's 16
// registers. Where the target has no fused multiply-add (baseline x86-64) the same chains
// run as a multiply and an add, which is that path's peak. The chains stay finite (scale
// < 1) and their sum is stored to a volatile, so nothing is optimized away (floating-point
// chains cannot be folded without fast-math). The chain loop is unrolled by a pragma: gcc -O2
// (the arm64 check's compiler, and `make check-kernels`' where there is no clang) kept it a
// loop with the sums in memory, one store-to-load wait per multiply-add, and measured a
// quarter of the peak.

enum { CHAINS = 12 };

// Per thread: the peak runs on every core at once, and one shared sink written by all of
// them was a data race (ThreadSanitizer).
static _Thread_local volatile float sink;

#define FMA_CHAINS(suffix, attribute, lanes)                                                                               \
    attribute double folio_fma_chains_##suffix(long iterations) {                                                          \
        typedef float vector __attribute__((vector_size(lanes * 4)));                                                     \
        vector sums[CHAINS];                                                                                               \
        for (int chain = 0; chain < CHAINS; chain++) {                                                                     \
            for (int lane = 0; lane < lanes; lane++) sums[chain][lane] = (float)(chain + lane) * 0.001f;                   \
        }                                                                                                                  \
        vector scale = (vector){0} + 0.999999f, step = (vector){0} + 0.000001f;                                            \
        for (long i = 0; i < iterations; i++) {                                                                            \
            _Pragma("GCC unroll 12") for (int chain = 0; chain < CHAINS; chain++) sums[chain] = sums[chain] * scale + step; \
        }                                                                                                                  \
        float total = 0;                                                                                                   \
        for (int chain = 0; chain < CHAINS; chain++) {                                                                     \
            for (int lane = 0; lane < lanes; lane++) total += sums[chain][lane];                                           \
        }                                                                                                                  \
        sink = total;                                                                                                      \
        return 2.0 * lanes * CHAINS * (double)iterations;                                                                  \
    }

FMA_CHAINS(generic, , 4)
#if defined(__x86_64__)
FMA_CHAINS(avx2, FOLIO_AVX2, 8)
FMA_CHAINS(avx512, FOLIO_AVX512, 16)
#endif
