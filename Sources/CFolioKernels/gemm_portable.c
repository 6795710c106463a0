#include "gemm_vector.h"

// gemm_vector.h's product for any target. arm64 has 32 vector registers (an 8-float
// vector takes two), so 6-row tiles fit; baseline x86-64 has 16 SSE registers, so 2-row
// tiles (8 accumulators) keep the sums out of memory there.
#if defined(__aarch64__)
enum { GENERIC_BLOCK = 6 };
#else
enum { GENERIC_BLOCK = 2 };
#endif

void folio_gemm_packed_generic(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias, float *c,
                               int ldc, int accumulate) {
    folio_vector_gemm(GENERIC_BLOCK, m, n, k, a, lda, packed, bias, c, ldc, accumulate);
}

void folio_gemm_at_generic(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    folio_vector_gemm_at(GENERIC_BLOCK, m, n, k, a, lda, b, ldb, c, ldc);
}
