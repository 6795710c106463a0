import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

@Suite struct SafetensorsTests {
    func fixturePath(_ name: String) throws -> String {
        try #require(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures")).path
    }

    /// A file written by `safetensors.torch.save_file` from a PyTorch model: Folio loads it
    /// and computes PyTorch's logits (names, transposes and the two biases all right).
    @Test func loadsAPyTorchCheckpointAndMatchesItsLogits() throws {
        let fixture = try NNFixture("classifier")
        let model = LSTMClassifier(vocabulary: 30, embeddingDim: 6, units: 5, layers: 2, classes: 3, seed: 0)
        try model.load(from: fixturePath("classifier"))
        let ids = (fixture.json["ids"] as! [Double]).map { UInt32($0) }
        let lengths = (fixture.json["lengths"] as! [Double]).map { Int32($0) }
        let logits = try model.forward(TokenBatch(rows: 2, length: 5, ids: ids, lengths: lengths))
        expectClose(logits.values, fixture.floats("logits"), 1e-5, "logits")
    }

    @Test func saveThenLoadGivesTheSameWeights() throws {
        let folder = TemporaryFolder()
        let model = LSTMClassifier(vocabulary: 40, embeddingDim: 4, units: 6, layers: 2, classes: 5, seed: 3)
        try model.save(to: folder.path + "/m.safetensors")
        let copy = LSTMClassifier(vocabulary: 40, embeddingDim: 4, units: 6, layers: 2, classes: 5, seed: 99)
        #expect(Array(copy.arena.values) != Array(model.arena.values))
        try copy.load(from: folder.path + "/m.safetensors")
        #expect(Array(copy.arena.values) == Array(model.arena.values))
        let (tensors, metadata) = try Safetensors.read(folder.path + "/m.safetensors")
        #expect(metadata["format"] == "pt")
        #expect(tensors["lstm.weight_ih_l1"]?.shape == [24, 6])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.safetensors"])
    }

    @Test func damagedFilesAndWrongModelsAreRefusedNamingTheKey() throws {
        let folder = TemporaryFolder()
        let model = LSTMClassifier(vocabulary: 40, embeddingDim: 4, units: 6, layers: 1, classes: 5, seed: 3)
        let path = folder.path + "/m.safetensors"
        try model.save(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let truncated = folder.write("t.safetensors", Array(bytes.dropLast(10)))
        #expect(throws: FolioError.self) { try model.load(from: truncated) }
        do { try model.load(from: truncated) } catch {
            #expect(error.file == truncated && (error.place ?? "").hasPrefix("key "), "\(error)")
        }
        let bigger = LSTMClassifier(vocabulary: 40, embeddingDim: 4, units: 7, layers: 1, classes: 5, seed: 3)
        #expect(throws: FolioError("shape [24, 4], the model needs [28, 4]", file: path, place: "key lstm.weight_ih_l0")) {
            try bigger.load(from: path)
        }
        let deeper = LSTMClassifier(vocabulary: 40, embeddingDim: 4, units: 6, layers: 2, classes: 5, seed: 3)
        #expect(throws: FolioError("missing tensor", file: path, place: "key lstm.weight_ih_l1")) { try deeper.load(from: path) }
        let garbage = folder.write("g.safetensors", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2])
        #expect(throws: FolioError.self) { try Safetensors.read(garbage) }
    }
}
