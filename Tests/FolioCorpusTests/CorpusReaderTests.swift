import FolioTestSupport
import CZstd
import FolioCore
import Foundation
import Testing
@testable import FolioCorpus

@Suite struct CorpusReaderTests {
    /// Reads every document of a corpus whole: (label, text) in order.
    func documents(_ corpus: any TextCorpus) throws -> [(String, String)] {
        var result: [(String, String)] = []
        var current: [UInt8] = []
        while let chunk = try corpus.nextChunk() {
            current += chunk.bytes
            if chunk.isDocumentEnd {
                result.append((chunk.label, String(decoding: current, as: UTF8.self)))
                current = []
            }
        }
        return result
    }

    @Test func directoryLayoutSortsLabelsAndFilesByBytes() throws {
        let folder = TemporaryFolder()
        folder.write("b/2.txt", "two")
        folder.write("b/10.txt", "ten")
        folder.write("a/nested/x.txt", "nested")
        folder.write("a/z.txt", "zed")
        folder.write("a/ignored.md", "not text")
        folder.write("Z/1.txt", "upper")
        let corpus = try DirectoryCorpus(root: folder.path)
        #expect(corpus.labels == ["Z", "a", "b"])
        let read = try documents(corpus)
        #expect(read.map(\.0) == ["Z", "a", "a", "b", "b"])
        #expect(read.map(\.1) == ["upper", "nested", "zed", "ten", "two"])
        #expect(corpus.statistics.documents == 5)
        #expect(corpus.statistics.skippedFiles == 1)
    }

    @Test func splitsAreSubfolders() throws {
        let folder = TemporaryFolder()
        folder.write("train/pos/1.txt", "good")
        folder.write("test/pos/1.txt", "fine")
        #expect(try documents(DirectoryCorpus(root: folder.path)).map(\.1) == ["good"])
        #expect(try documents(DirectoryCorpus(root: folder.path, options: .init(split: "test"))).map(\.1) == ["fine"])
        #expect(throws: FolioError.self) { try DirectoryCorpus(root: folder.path, options: .init(split: "dev")) }
    }

    @Test func largeDocumentsStreamInChunks() throws {
        let folder = TemporaryFolder()
        let text = String(repeating: "word ёлка ", count: 50_000)
        folder.write("l/big.txt", text)
        var options = CorpusOptions()
        options.chunkBytes = 4096
        let corpus = try DirectoryCorpus(root: folder.path, options: options)
        var chunks = 0
        var joined: [UInt8] = []
        while let chunk = try corpus.nextChunk() {
            chunks += 1
            #expect(chunk.bytes.count <= 4096)
            #expect(String(validating: chunk.bytes, as: UTF8.self) != nil, "a chunk splits a character")
            joined += chunk.bytes
        }
        #expect(chunks > 100)
        #expect(joined == Array(text.utf8))
    }

    @Test func badFilesAreReportedNotLost() throws {
        let folder = TemporaryFolder()
        folder.write("a/binary.txt", [0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x41])
        folder.write("a/empty.txt", "")
        folder.write("a/invalid.txt", [0x61, 0xFF, 0x62])
        folder.makeFolder("b")
        let corpus = try DirectoryCorpus(root: folder.path)
        let read = try documents(corpus)
        #expect(read.map(\.1) == ["", "a\u{FFFD}b"])
        #expect(corpus.statistics.emptyDocuments == 1)
        #expect(corpus.statistics.invalidUTF8Replacements == 1)
        #expect(corpus.statistics.skippedFiles == 1)
        #expect(corpus.statistics.warnings.count == 2)
        #expect(corpus.statistics.warnings[0].contains("binary.txt"))
        #expect(corpus.statistics.warnings[1].hasSuffix("empty label folder (no .txt files)"))
        #expect(corpus.statistics.warnings[1].contains(folder.path + "/b"))
    }

    @Test func missingAndUnreadableInputsAreErrorsNamingThePath() throws {
        let folder = TemporaryFolder()
        #expect(throws: FolioError("no such folder", file: folder.path + "/nope")) {
            try DirectoryCorpus(root: folder.path + "/nope")
        }
        #expect(throws: FolioError.self) { try DirectoryCorpus(root: folder.path) }  // no label folders
        folder.makeFolder("a")
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/a/gone.txt", withDestinationPath: "/nonexistent")
        let corpus = try DirectoryCorpus(root: folder.path)
        do {
            _ = try documents(corpus)
            Issue.record("a dangling file was read silently")
        } catch let error as FolioError {
            #expect(error.file == folder.path + "/a/gone.txt")
        }
    }

    /// A JSONL file that grows while it is read (a writer appending lines): reading goes
    /// on to the end it finds, every line whole; a line still being written when the reader
    /// reaches the end is a syntax error naming its line, never a torn document.
    @Test func aGrowingJSONLFileIsReadToTheEndItFinds() throws {
        let folder = TemporaryFolder()
        let line = { (number: Int) in "{\"text\": \"document \(number) \(String(repeating: "x", count: 80))\", \"label\": \"a\"}\n" }
        let first = 30_000  // about 3 MB: more than one 1 MiB read
        let path = folder.write("grow.jsonl", (0..<first).map(line).joined())
        let corpus = try openCorpus(path: path)
        var texts: [String] = []
        var current: [UInt8] = []
        var appended = false
        while let chunk = try corpus.nextChunk() {
            current += chunk.bytes
            if chunk.isDocumentEnd {
                texts.append(String(decoding: current, as: UTF8.self))
                current = []
            }
            if !appended {
                let handle = try #require(FileHandle(forWritingAtPath: path))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data((first..<(first + 500)).map(line).joined().utf8))
                try handle.close()
                appended = true
            }
        }
        #expect(texts.count == first + 500)
        #expect(texts.enumerated().allSatisfy { $1.hasPrefix("document \($0) ") && $1.hasSuffix(String(repeating: "x", count: 80)) })

        // The writer is mid-line when the reader reaches the end.
        let torn = folder.write("torn.jsonl", line(0) + "{\"text\": \"half writ")
        let error = try #require(throws: FolioError.self) { _ = try documents(try openCorpus(path: torn)) }
        #expect(error.file == torn && error.place?.hasPrefix("line 2") == true, "\(error)")
    }

    @Test func jsonlWithSplitsKeysAndErrors() throws {
        let folder = TemporaryFolder()
        let path = folder.write("c.jsonl", """
            {"text": "first", "label": "x", "split": "train"}

            {"text": "held out", "label": "y", "split": "test"}
            {"body": "second", "label": 2, "split": "train"}
            """)
        var options = CorpusOptions()
        options.textKey = "body"
        #expect(throws: FolioError("no \"body\" key", file: path, place: "line 1")) {
            try documents(JSONLCorpus(path: path, options: options))
        }
        let bad = folder.write("bad.jsonl", "{\"text\": \"ok\", \"label\": \"x\"}\n{\"text\": oops}\n")
        // A line without a label: an error unless unlabeled corpora are allowed (vocab, shard).
        let unlabeled = folder.write("unlabeled.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n")
        #expect(throws: FolioError("no \"label\" key: training needs labelled documents (folio vocab, shard and embed read unlabeled ones)",
                                   file: unlabeled, place: "line 2")) {
            try documents(JSONLCorpus(path: unlabeled))
        }
        var lenient = CorpusOptions()
        lenient.allowsUnlabeled = true
        #expect(try documents(JSONLCorpus(path: unlabeled, options: lenient)).map(\.0) == ["x", ""])
        #expect(throws: FolioError("invalid JSON: expected a value", file: bad, place: "line 2, byte 10")) {
            try documents(JSONLCorpus(path: bad))
        }
        let good = folder.write("good.jsonl", "{\"text\": \"a\", \"label\": \"x\", \"split\": \"test\"}\n{\"text\": \"b\", \"label\": 3}")
        #expect(try documents(JSONLCorpus(path: good)).map(\.1) == ["b"])
        #expect(throws: FolioError("split 'test' asked for, but the line has no \"split\" key", file: good, place: "line 2")) {
            try documents(JSONLCorpus(path: good, options: .init(split: "test")))
        }
        #expect(throws: FolioError("no \"text\" key", file: path, place: "line 4")) {
            try documents(JSONLCorpus(path: path))
        }
    }

    @Test func zstdCompressedInputsAndTruncation() throws {
        let folder = TemporaryFolder()
        let lines = (0..<2000).map { "{\"text\": \"document \($0) ёлка\", \"label\": \"l\($0 % 3)\"}" }.joined(separator: "\n")
        let compressed = zstdCompress(Array(lines.utf8))
        let path = folder.write("c.jsonl.zst", compressed)
        let read = try documents(openCorpus(path: path))
        #expect(read.count == 2000)
        #expect(read[1999].1 == "document 1999 ёлка")
        let truncated = folder.write("t.jsonl.zst", Array(compressed.dropLast(7)))
        #expect(throws: FolioError.self) { try documents(openCorpus(path: truncated)) }
        do { _ = try documents(openCorpus(path: truncated)) } catch let error as FolioError {
            #expect(error.file == truncated)
        }
    }
}

func zstdCompress(_ input: [UInt8]) -> [UInt8] {
    var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
    let size = output.withUnsafeMutableBytes { out in
        input.withUnsafeBytes { ZSTD_compress(out.baseAddress, out.count, $0.baseAddress, $0.count, 3) }
    }
    return Array(output[0..<size])
}
