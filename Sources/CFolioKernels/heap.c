#include "folio_kernels.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int folio_keep_freed_memory(size_t largest_block, size_t retained) {
#if defined(__GLIBC__)
    // Above M_MMAP_THRESHOLD glibc maps each block on its own and unmaps it on free, so a
    // buffer freed and allocated again every training step is faulted in and zeroed by the
    // kernel every time. Raising it keeps blocks up to `largest_block` in the heap, and the
    // trim threshold keeps up to `retained` free bytes at the top of the heap instead of
    // handing them back. Blocks beyond `largest_block` are still mapped apart: kept in the
    // heap, the bag-of-n-grams model's largest ones fragmented it (its peak at batch 512
    // rose from 462 to 619 MB).
    return mallopt(M_MMAP_THRESHOLD, (int)largest_block) && mallopt(M_TRIM_THRESHOLD, (int)retained);
#else
    (void)largest_block;
    (void)retained;
    return 0;
#endif
}

int folio_release_freed_memory(void) {
#if defined(__GLIBC__)
    // Every arena's free pages back to the kernel, the blocks kept for reuse above included.
    return malloc_trim(0);
#else
    return 0;
#endif
}
