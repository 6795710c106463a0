import FolioCore
import FolioNN
import Foundation
import Testing

@Suite struct ArenaMemoryTests {
    /// The advice covers exactly the whole 2 MiB pages inside a buffer, and none of a
    /// buffer that holds none.
    @Test func theAdviceCoversTheWholeHugePagesInside() {
        let page = HugePages.size
        #expect(HugePages.alignedInterior(address: 7 * page + 100, bytes: 5 * page) == 8 * page..<12 * page)
        #expect(HugePages.alignedInterior(address: 7 * page, bytes: 5 * page) == 7 * page..<12 * page)
        #expect(HugePages.alignedInterior(address: 7 * page, bytes: 5 * page - 1) == 7 * page..<11 * page)
        #expect(HugePages.alignedInterior(address: 7 * page + 1, bytes: 2 * page - 2) == nil)
        #expect(HugePages.alignedInterior(address: 7 * page + 1, bytes: 100) == nil)
    }

    /// Where Linux leaves huge pages to the programs that ask (`[madvise]`), a model's
    /// parameters of 64 MB get them: the mapping that holds them shows anonymous huge pages.
    @Test func aLargeArenaIsBackedByHugePagesWhereTheSystemLeavesItToPrograms() throws {
        guard let mode = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8),
              mode.contains("[madvise]") else { return }  // [always]: every program gets them; [never]: none
        let arena = ParameterArena(layout: [("table", [160_000, 100])])
        // The middle of the table: advising a part of a mapping splits it in three.
        let address = UInt(bitPattern: arena.values.baseAddress) + UInt(arena.values.count * 2)
        // Read to the end: procfs files give their size as 0.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        let smaps = String(decoding: try #require(try file.readToEnd()), as: UTF8.self)
        var inside = false
        var hugeKB: Int?
        for line in smaps.split(separator: "\n") {
            if let range = line.split(separator: " ").first, range.contains("-"), !line.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && (bounds[0]..<bounds[1]).contains(address)
            } else if inside, line.hasPrefix("AnonHugePages:") {
                hugeKB = Int(line.split(separator: " ")[1])
            }
        }
        let kilobytes = try #require(hugeKB, "no mapping holds the arena")
        #expect(kilobytes >= HugePages.size / 1024, "\(kilobytes) kB of huge pages")
    }

    /// Gradients take memory only where training writes them: an arena's gradients of 64 MB
    /// are not resident when made, and are once written (a table trained without a gradient
    /// never writes its rows there: ``Sequential/keepsNoTableGradient(_:lazyUpdates:optimizer:subwords:)``).
    @Test func gradientsTakeMemoryOnlyWhereWritten() throws {
        let arena = ParameterArena(layout: [("table", [160_000, 100])])
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        func residentPages() -> Int {
            let start = (Int(bitPattern: arena.gradients.baseAddress) + page - 1) / page * page
            let end = (Int(bitPattern: arena.gradients.baseAddress) + arena.gradients.count * 4) / page * page
            var pages = [UInt8](repeating: 0, count: (end - start) / page)
            guard mincore(UnsafeMutableRawPointer(bitPattern: start), end - start, &pages) == 0 else { return -1 }
            return pages.reduce(0) { $0 + Int($1 & 1) }
        }
        let total = arena.gradients.count * 4 / page
        #expect(residentPages() < total / 100, "\(residentPages()) of \(total) pages resident before any write")
        arena.gradients.update(repeating: 0)
        #expect(residentPages() > total * 99 / 100)
    }
}
