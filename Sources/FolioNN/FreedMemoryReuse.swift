import CFolioKernels

/// Training frees and allocates the same large buffers every step (the caches a recurrent
/// layer's backward releases, activation gradients). With glibc's defaults each block over
/// its mmap threshold (at most 32 MiB) is mapped on its own and unmapped when freed, so
/// every step faults its pages in and the kernel zeroes them again: at batch 256 the
/// reference LSTM spent a sixth of its time there. Keeping freed blocks in the heap makes
/// the next step reuse them; the peak resident size does not rise, since the step's peak
/// holds all of them at once anyway.
public enum FreedMemoryReuse {
    /// Keeps freed blocks of up to `largestBlock` bytes (128 MiB: an LSTM's gate cache at
    /// batch 256 is 105 MiB), and up to `retained` free bytes in all, for reuse
    /// (process-wide; `folio` calls it at start-up). Larger blocks are still mapped and
    /// unmapped one by one: kept, they fragmented the heap (bag of n-grams at batch 512:
    /// 619 MB peak instead of 462). Returns false where the C library offers no such setting.
    @discardableResult
    public static func enable(largestBlock: Int = 128 << 20, retained: Int = 1 << 30) -> Bool {
        folio_keep_freed_memory(largestBlock, retained) == 1
    }

    /// Gives the freed blocks kept for reuse (and any other free heap memory) back to the
    /// kernel: for a stage that follows larger ones in the same process, so that its peak
    /// resident size starts from what is really in use (a tune's final model after its trials).
    public static func release() { _ = folio_release_freed_memory() }
}
