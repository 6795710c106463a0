#if canImport(Glibc)
import Glibc
#endif

/// Asks Linux to back a large allocation with 2 MiB pages (transparent huge pages,
/// `madvise(MADV_HUGEPAGE)`), where the system leaves that to each program (`[madvise]` in
/// `/sys/kernel/mm/transparent_hugepage/enabled`, Debian's default).
///
/// Why: a bag model reads and writes rows of a table of 100 MB or more at random, and with
/// 4 KiB pages nearly every row costs a page walk (25,000 pages against a few thousand TLB
/// entries); with 2 MiB pages the whole table fits the TLB.
public enum HugePages {
    public static let size = 2 << 20

    /// The whole huge pages inside `bytes` bytes from `address`: the range the advice can
    /// cover, as the kernel backs only aligned 2 MiB spans of a mapping with huge pages.
    public static func alignedInterior(address: Int, bytes: Int) -> Range<Int>? {
        let start = (address + size - 1) & ~(size - 1)
        let end = (address + bytes) & ~(size - 1)
        return end > start ? start..<end : nil
    }

    /// Advises the aligned interior of `buffer` before it is first written (the pages are
    /// made at the first write). Nothing happens elsewhere than on Linux or where the system
    /// refuses: the memory is then used as it would have been.
    public static func advise<Element>(_ buffer: UnsafeMutableBufferPointer<Element>) {
        #if os(Linux)
        guard let base = buffer.baseAddress,
              let interior = alignedInterior(address: Int(bitPattern: base), bytes: buffer.count * MemoryLayout<Element>.stride),
              let start = UnsafeMutableRawPointer(bitPattern: interior.lowerBound) else { return }
        _ = madvise(start, interior.count, MADV_HUGEPAGE)
        #endif
    }
}
