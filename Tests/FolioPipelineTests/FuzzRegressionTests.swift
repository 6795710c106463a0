import FolioNN
import FolioShards
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// The inputs `make fuzz` found that crashed a reader or broke one of its properties
/// (Fuzz/, bench/results/fuzz.md), replayed through the same calls as the fuzz targets:
/// each must now give a FolioError that names its file, not a trap or an abort.
@Suite struct FuzzRegressionTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/fuzz/" + name, withExtension: nil))
        return url.path
    }

    /// A footer offset beyond Int.max trapped converting it to Int.
    @Test func shardFooterOffsetBeyondIntIsAnError() throws {
        let path = try Self.fixture("shard-footer-offset.fol")
        let error = try #require(throws: FolioError.self) { try ShardReader(path: path) }
        #expect(error.file == path && error.place == "trailer" && error.message.contains("outside the file"))
    }

    /// A header length beyond Int.max trapped converting it to Int.
    @Test func safetensorsHeaderLengthBeyondIntIsAnError() throws {
        let path = try Self.fixture("header-length.safetensors")
        let error = try #require(throws: FolioError.self) { try SafetensorsFile(path: path) }
        #expect(error.file == path && error.place == "header")
    }

    /// A bundle whose layers cannot be built gave an error naming no file.
    @Test func unbuildableBundleNamesItsDescription() throws {
        let folder = (try Self.fixture("bundle/model.json") as NSString).deletingLastPathComponent
        let error = try #require(throws: FolioError.self) { try ModelBundle.load(from: folder) }
        #expect(error.file == folder + "/model.json" && error.message.contains("pooling"))
    }

    /// A Dense of -73 units sized the parameter arena too small, and initializing the
    /// embedding wrote past it (AddressSanitizer: heap-buffer-overflow).
    @Test func negativeLayerSizeInABundleIsAnError() throws {
        let folder = (try Self.fixture("bundle-negative-units/model.json") as NSString).deletingLastPathComponent
        let error = try #require(throws: FolioError.self) { try ModelBundle.load(from: folder) }
        #expect(error.file == folder + "/model.json" && error.message.contains("units -73 is below 1"), "\(error)")
    }

    /// Layer sizes from outside are checked before anything is allocated: each at least 1,
    /// rates in [0, 1), and no more parameters than the weights file holds.
    @Test func layerSizesAreCheckedBeforeAllocation() throws {
        for (spec, problem) in [(LayerSpec.embedding(outputDim: 0), "output_dim 0"), (.dropout(rate: 1), "rate 1.0"),
                                (.conv1D(filters: 4, kernelSize: 0), "kernel_size 0"), (.maxPooling1D(poolSize: -1), "pool_size -1"),
                                (.lstm(units: 4, dropout: -0.5), "dropout -0.5")] {
            let layers: [LayerSpec]
            if case .embedding = spec { layers = [spec, .globalMaxPooling1D, .dense(units: 2)] } else {
                layers = [.embedding(outputDim: 4), spec, .globalMaxPooling1D, .dense(units: 2)]
            }
            let error = try #require(throws: FolioError.self) { try Sequential.layout(layers, vocabulary: 10) }
            #expect(error.message.contains(problem), "\(error)")
        }
        let huge = try #require(throws: FolioError.self) {
            try Sequential.layout([.embedding(outputDim: 1 << 20), .globalMaxPooling1D, .dense(units: 1 << 20)], vocabulary: 1 << 20)
        }
        #expect(huge.message.contains("beyond"))
    }

    /// A NUL inside a `--set` string cut the value short when written back as TOML.
    @Test func nulInSetValueIsRefused() throws {
        let assignments = String(decoding: try readWholeFile(try Self.fixture("set-nul.txt")), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        #expect(assignments[0].utf8.contains(0))
        let demo = String(decoding: try readWholeFile("pipelines/demo.toml"), as: UTF8.self)
        let error = try #require(throws: FolioError.self) {
            try PipelineConfig.parse(demo, file: "demo.toml", baseFolder: ".", overrides: assignments)
        }
        #expect(error.message.contains("NUL") && error.place?.contains("corpus.path") == true)
    }

    /// TOML's library aborted on a NUL and on a table header without a name (`[#`). The
    /// text is decoded as the fuzz target does (invalid UTF-8 replaced).
    @Test(arguments: [("nul-in-header.toml", 11), ("nameless-header.toml", 12), ("carriage-return-header.toml", 6)])
    func pipelinesThatAbortedTOMLAreErrors(name: String, line: Int) throws {
        let text = String(decoding: try readWholeFile(try Self.fixture(name)), as: UTF8.self)
        let error = try #require(throws: FolioError.self) { try PipelineConfig.parse(text, file: name, baseFolder: ".") }
        #expect(error.file == name && error.place == "line \(line)")
    }

    /// A pipeline file that is not UTF-8 said only "the file isn't in the correct format".
    @Test func invalidUTF8PipelineNamesLineAndOffset() throws {
        let path = try Self.fixture("nameless-header.toml")
        let error = try #require(throws: FolioError.self) { try PipelineConfig.read(path: path) }
        #expect(error.file == path && error.place == "line 18" && error.message.contains("offset 280"))
    }

    /// The header check follows bracket depth: a `[` that opens a line inside a multi-line
    /// array is a value, and valid headers pass.
    @Test func headerCheckLeavesArraysAndValidHeadersAlone() {
        #expect(PipelineValue.firstNamelessHeader("a = [\n  [1, 2], # x\n  [3],\n]\n[b]\n[[c]]\n[ \"d\" ]\n") == nil)
        #expect(PipelineValue.firstNamelessHeader("a = 1\n[ #\n") == 2)
        #expect(PipelineValue.firstNamelessHeader("s = \"[\"\n[=]\n") == 2)
        #expect(PipelineValue.firstNamelessHeader("[é]\n") == 1)
        #expect(PipelineValue.firstNamelessHeader("[\r\ra]\n") == 1)
        #expect(PipelineValue.firstNamelessHeader("[a]\r\nb = 1\r\n") == nil)
    }

    /// A checkpoint's file names come from its JSON and must stay inside its folder.
    @Test func checkpointFileNamesStayInTheFolder() throws {
        let folder = TemporaryFolder()
        folder.makeFolder("checkpoints")
        folder.write("outside.safetensors", "not a checkpoint's file")
        let json = try readWholeFile(try Self.fixture("checkpoint-outside.json"))
        folder.write("checkpoints/checkpoint.json", json)
        let error = try #require(throws: FolioError.self) { try Checkpoint.read(folder: folder.path + "/checkpoints") }
        #expect(error.file == folder.path + "/checkpoints/checkpoint.json" && error.message.contains("../outside.safetensors"))
    }
}
