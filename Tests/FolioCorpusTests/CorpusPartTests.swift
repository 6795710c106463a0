import FolioTestSupport
import FolioCore
import Foundation
import Testing
@testable import FolioCorpus

/// The parts of a corpus that ranks read: disjoint, together the whole, each document
/// named by its place in the file, whatever the count of parts.
@Suite struct CorpusPartTests {
    /// Every document of a part: (source, label, text).
    func documents(_ path: String, part: CorpusPart) throws -> [String] {
        let corpus = try openCorpus(path: path, options: CorpusOptions().part(part.index, of: part.count))
        var result: [String] = []
        while let chunk = try corpus.nextChunk() {
            result.append("\(chunk.source) \(chunk.label) \(String(decoding: chunk.bytes, as: UTF8.self))")
        }
        return result
    }

    /// Lines of very different lengths (one longer than a 1/5 part), blank lines, a CRLF
    /// line, and no newline after the last.
    func lines() -> [String] {
        var random = SplitMix64(seed: 7)
        var lines: [String] = []
        for index in 0..<300 {
            let words = index == 40 ? 5000 : Int(random.next() % 40)
            let text = (0..<words).map { "w\($0 % 17)" }.joined(separator: " ")
            lines.append(index % 50 == 7 ? "" : "{\"text\": \"\(text) #\(index)\", \"label\": \"l\(index % 3)\"}" + (index == 90 ? "\r" : ""))
        }
        return lines
    }

    @Test(arguments: [2, 3, 5, 8])
    func rangesOfAPlainFileAreDisjointCoverEveryLineAndKeepLineNumbers(parts: Int) throws {
        let folder = TemporaryFolder()
        let path = folder.write("c.jsonl", lines().joined(separator: "\n"))
        let whole = try documents(path, part: .whole)
        #expect(whole.count == 294)
        #expect(whole.last?.hasPrefix("\(path):300 l2 ") == true)
        let read = try (0..<parts).map { try documents(path, part: CorpusPart(index: $0, count: parts)) }
        #expect(Array(read.joined()) == whole)
        var statistics = CorpusStatistics()
        for index in 0..<parts {
            let corpus = try JSONLCorpus(path: path, options: CorpusOptions().part(index, of: parts))
            while try corpus.nextChunk() != nil {}
            statistics.add(corpus.statistics)
        }
        #expect(statistics.bytes == fileSize(path))
        #expect(statistics.documents == whole.count)
    }

    @Test func aRangeStartsAtTheLineThatStartsOnItsBoundary() throws {
        let folder = TemporaryFolder()
        // 20 bytes a line, newline included: the boundary of 2 parts, byte 40, starts line 3.
        let line = "{\"text\":\"abcdefgh\"}"
        let path = folder.write("c.jsonl", (0..<4).map { _ in line + "\n" }.joined())
        let first = try LineAlignedRange(path: path, part: CorpusPart(index: 0, count: 2))
        let second = try LineAlignedRange(path: path, part: CorpusPart(index: 1, count: 2))
        #expect(first.bytes == 0..<40 && first.linesBefore == 0)
        #expect(second.bytes == 40..<80 && second.linesBefore == 2)
    }

    @Test(arguments: [2, 3])
    func aCompressedStreamIsDealtByLineOrdinal(parts: Int) throws {
        let folder = TemporaryFolder()
        let path = folder.write("c.jsonl.zst", zstdCompress(Array(lines().joined(separator: "\n").utf8)))
        let whole = try documents(path, part: .whole)
        let read = try (0..<parts).map { try documents(path, part: CorpusPart(index: $0, count: parts)) }
        #expect(read.joined().sorted() == whole.sorted())
        for (index, part) in read.enumerated() {
            let numbers = part.compactMap { Int($0.split(separator: " ")[0].split(separator: ":").last!) }
            #expect(numbers.allSatisfy { ($0 - 1) % parts == index })
        }
    }

    @Test func anErrorInALaterPartNamesTheFilesLine() throws {
        let folder = TemporaryFolder()
        var lines = self.lines()
        lines[250] = "{\"text\": oops}"
        let path = folder.write("c.jsonl", lines.joined(separator: "\n"))
        var errors: [FolioError] = []
        for index in 0..<3 {
            do { _ = try documents(path, part: CorpusPart(index: index, count: 3)) } catch let error as FolioError { errors.append(error) }
        }
        #expect(errors.count == 1)
        #expect(errors.first?.file == path)
        #expect(errors.first?.description.contains("line 251") == true)
    }
}
