#include "folio_kernels.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int folio_keep_freed_memory(size_t bytes) {
#if defined(__GLIBC__)
    // Above M_MMAP_THRESHOLD glibc maps each block on its own and unmaps it on free, so a
    // buffer freed and allocated again every training step is faulted in and zeroed by the
    // kernel every time. Raising it (and the trim threshold, so the top of the heap is not
    // handed back either) keeps those pages for the next allocation of the step.
    return mallopt(M_MMAP_THRESHOLD, (int)bytes) && mallopt(M_TRIM_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}
