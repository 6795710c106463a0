#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Floats in a mapping of their own, zero until written: the system makes each page at its
/// first write, so pages never written take no memory. Not from the allocator: `calloc` leaves
/// a large block's pages alone only while it maps the block afresh, which is its choice, and
/// an arena's gradients from it were once found all resident before any write (in a full
/// parallel test run; not reproduced since).
public enum ZeroedPages {
    /// `count` zero floats (at least one).
    public static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let count = max(count, 1)
        let raw = mmap(nil, bytes(count), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            fatalError("out of memory: \(bytes(count)) bytes")  // as Swift's own allocation stops
        }
        return UnsafeMutableBufferPointer(start: raw.assumingMemoryBound(to: Float.self), count: count)
    }

    /// Returns a buffer from ``allocate(_:)`` to the system.
    public static func deallocate(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress else { return }
        munmap(base, bytes(buffer.count))
    }

    private static func bytes(_ count: Int) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return (count * MemoryLayout<Float>.stride + page - 1) / page * page
    }
}
