#include "packed_layout.h"

// Which paths this CPU runs, and each path's table. The choice among them is FolioNN's
// (`KernelSet`: the widest, or what FOLIO_ISA names), made once per object that computes,
// never by the loader behind the caller's back, so tests can run every path the machine has.

int folio_isa_supported(folio_isa isa) {
    switch (isa) {
    case FOLIO_ISA_GENERIC: return 1;
#if defined(__x86_64__)
    // __builtin_cpu_supports checks the OS's register saving as well (XCR0) for these.
    case FOLIO_ISA_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FOLIO_ISA_AVX512: __builtin_cpu_init(); return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

#define KERNEL_TABLE(isa_value, label, suffix)                                                                          \
    {isa_value, label, folio_gemm_packed_##suffix, folio_gemm_at_##suffix, folio_lstm_forward_row_##suffix,                \
     folio_lstm_backward_row_##suffix, folio_adam_update_##suffix, folio_fma_chains_##suffix,                           \
     folio_negative_sampling_##suffix, folio_add_scaled_##suffix}

static const folio_kernels generic = KERNEL_TABLE(FOLIO_ISA_GENERIC, "generic", generic);
#if defined(__x86_64__)
static const folio_kernels avx2 = KERNEL_TABLE(FOLIO_ISA_AVX2, "avx2", avx2);
static const folio_kernels avx512 = KERNEL_TABLE(FOLIO_ISA_AVX512, "avx512", avx512);
#endif

const folio_kernels *folio_kernels_for(folio_isa isa) {
    if (!folio_isa_supported(isa)) return NULL;
    switch (isa) {
#if defined(__x86_64__)
    case FOLIO_ISA_AVX2: return &avx2;
    case FOLIO_ISA_AVX512: return &avx512;
#endif
    default: return &generic;
    }
}
