#include "gemm_vector.h"

#if defined(__x86_64__)
// gemm_vector.h's product in 6-row tiles, compiled for AVX2 + FMA: 12 accumulators,
// two of B's vectors and one broadcast fill 15 of the 16 YMM registers.
FOLIO_AVX2 void folio_gemm_packed_avx2(int m, int n, int k, const float *a, int lda, const float *packed, const float *bias,
                                       float *c, int ldc, int accumulate) {
    folio_vector_gemm(6, m, n, k, a, lda, packed, bias, c, ldc, accumulate);
}

FOLIO_AVX2 void folio_gemm_at_avx2(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    folio_vector_gemm_at(6, m, n, k, a, lda, b, ldb, c, ldc);
}
#endif
