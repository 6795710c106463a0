import FolioNN
import FolioShards
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

@Suite struct TrainerTests {
    let folder = TemporaryFolder()

    init() throws { try Self.writeLearnableShards(into: folder.path) }

    /// A small learnable shard set, 90 records of 3 labels in ids 2..<26: the label decides
    /// which id range dominates.
    static func writeLearnableShards(into folder: String) throws {
        var generator = SplitMix64(seed: 4)
        let writer = try ShardWriter(path: folder + "/shard-00000.fol", blockBytes: 512)
        for _ in 0..<90 {
            let label = UInt32(generator.next() % 3)
            let length = 2 + Int(generator.next() % 9)
            try writer.append(label: label, ids: (0..<length).map { _ in UInt32(2 + Int(label) * 8 + Int(generator.next() % 8)) })
        }
        try ShardManifest(vocabularyFingerprint: "fnv1a64:test", vocabularySize: 26, tokenizer: [:], labels: ["a", "b", "c"],
                          shards: [try writer.finish()]).write(toFolder: folder)
    }

    func trainer(_ checkpoints: String, adjust: (inout TrainingOptions) -> Void = { _ in }) throws -> Trainer {
        let model = try Sequential([.embedding(outputDim: 6), .lstm(units: 6, returnSequences: true, dropout: 0.2, recurrentDropout: 0.1),
                                    .globalAveragePooling1D, .dropout(rate: 0.2), .dense(units: 3)], vocabulary: 26, seed: 7)
        let loader = try ShardLoader(shards: try ShardSet(folder: folder.path),
                                     options: LoaderOptions(batchSize: 8, maxLength: 10, seed: 3, memoryBudget: 1 << 16, prefetch: 2))
        var options = TrainingOptions(checkpointFolder: checkpoints)
        options.epochs = 2
        options.accumulationSteps = 2
        options.checkpointEvery = 3
        adjust(&options)
        return Trainer(model: model, optimizer: Adam(arena: model.arena, learningRate: 0.01), loader: loader, options: options)
    }

    /// Killed after k micro-batches, then resumed: the final weights equal an uninterrupted
    /// run's bit for bit (mid-epoch, mid-accumulation, across the epoch boundary).
    @Test(arguments: [1, 2, 5, 8, 13])
    func killAndResumeEqualsAnUninterruptedRun(killAfter: Int) throws {
        let reference = try trainer(folder.path + "/reference")
        let losses = try reference.fit()
        #expect(losses.count == 24, "2 epochs of 12 batches")
        #expect(losses.suffix(4).reduce(0, +) < losses.prefix(4).reduce(0, +), "it learns")

        let checkpoints = folder.path + "/killed-\(killAfter)"
        let first = try trainer(checkpoints)
        first.stopAfterMicroBatches = killAfter
        try first.fit()
        let resumed = try trainer(checkpoints)
        try resumed.fit(resume: true)
        #expect(Array(resumed.model.arena.values) == Array(reference.model.arena.values))
        #expect(resumed.optimizer.iterations == reference.optimizer.iterations)
    }

    /// `checkpointSeconds` longer than the run: no checkpoint but the last, so a run killed
    /// in its second epoch resumes from the start and ends as an uninterrupted run does; a
    /// stop still writes its checkpoint, and the run resumed from it ends the same.
    @Test func checkpointsAtMostEverySoManySecondsAndAStopStillWritesOne() throws {
        let reference = try trainer(folder.path + "/reference")
        try reference.fit()
        #expect(reference.checkpointsWritten == 6 && reference.checkpointsSkipped == 0, "steps 3, 6, 9, 12 and two epoch ends")

        let sparse = { (options: inout TrainingOptions) in options.checkpointSeconds = 1e6 }
        let checkpoints = folder.path + "/sparse"
        let killed = try trainer(checkpoints, adjust: sparse)
        killed.stopAfterMicroBatches = 17
        try killed.fit()
        #expect(killed.checkpointsWritten == 0 && killed.checkpointsSkipped == 3, "steps 3 and 6, epoch 1's end")
        #expect(try Checkpoint.read(folder: checkpoints) == nil)
        let resumed = try trainer(checkpoints, adjust: sparse)
        try resumed.fit(resume: true)
        #expect(resumed.checkpointsWritten == 1 && resumed.optimizer.iterations == reference.optimizer.iterations)
        #expect(try Checkpoint.read(folder: checkpoints)?.finished == true)
        #expect(Array(resumed.model.arena.values) == Array(reference.model.arena.values))

        let stopped = folder.path + "/stopped"
        let request = StopRequest()
        let interrupted = try trainer(stopped) { options in
            sparse(&options)
            options.stopRequest = request
        }
        interrupted.onProgress = { if $0.batch == 5 { request.request(signal: SIGINT) } }
        #expect(throws: FolioError.self) { try interrupted.fit() }
        #expect(interrupted.checkpointsWritten == 1 && interrupted.checkpointsSkipped == 1)
        #expect(try Checkpoint.read(folder: stopped)?.loader == LoaderState(epoch: 0, batchesDone: 6))
        let afterStop = try trainer(stopped, adjust: sparse)
        try afterStop.fit(resume: true)
        #expect(Array(afterStop.model.arena.values) == Array(reference.model.arena.values))
    }

    /// Checkpoints are committed (fsync, rename, checkpoint.json) while training goes on: a
    /// commit that fails stops the run at the next checkpoint with its error, and the
    /// checkpoint before it stays the folder's; resumed from it, the run ends as one never
    /// stopped.
    @Test func aCheckpointThatFailsToCommitStopsTheRunAndKeepsTheOneBefore() throws {
        let reference = try trainer(folder.path + "/reference")
        try reference.fit()
        let checkpoints = folder.path + "/blocked"
        // The second checkpoint (optimizer step 6, micro-batch 12) cannot take its name.
        try FileManager.default.createDirectory(atPath: checkpoints + "/weights-12.safetensors", withIntermediateDirectories: true)
        #expect(throws: FolioError("cannot rename into place: \(FolioError.systemMessage(EISDIR))", file: checkpoints + "/weights-12.safetensors")) {
            try trainer(checkpoints).fit()
        }
        #expect(try Checkpoint.read(folder: checkpoints)?.weightsFile == "weights-6.safetensors")
        try FileManager.default.removeItem(atPath: checkpoints + "/weights-12.safetensors")
        let resumed = try trainer(checkpoints)
        try resumed.fit(resume: true)
        #expect(Array(resumed.model.arena.values) == Array(reference.model.arena.values))
    }

    @Test func aKillDuringACheckpointWriteAndACorruptCheckpoint() throws {
        let reference = try trainer(folder.path + "/reference")
        try reference.fit()
        let checkpoints = folder.path + "/interrupted"
        let first = try trainer(checkpoints)
        first.stopAfterMicroBatches = 9
        try first.fit()
        // A write cut short: a newer, half-written pair and a temporary manifest.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: checkpoints + "/weights-99.safetensors"))
        try Data("{\"weightsFile\": ".utf8).write(to: URL(fileURLWithPath: checkpoints + "/checkpoint.json.tmp-4242"))
        let resumed = try trainer(checkpoints)
        try resumed.fit(resume: true)
        #expect(Array(resumed.model.arena.values) == Array(reference.model.arena.values))

        let checkpoint = try #require(try Checkpoint.read(folder: checkpoints))
        let weights = checkpoints + "/" + checkpoint.weightsFile
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: weights)))
        bytes[bytes.count - 3] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: weights))
        #expect(throws: FolioError("checksum does not match checkpoint.json (corrupt checkpoint)", file: weights)) {
            try trainer(checkpoints).fit(resume: true)
        }
    }
}

/// Class weights as Keras and scikit-learn define them, sized by the shard set's labels in
/// the one place every way of training goes through.
@Suite struct ClassWeightTests {
    @Test func kerasClassWeightIsSizedByTheLabelsNotByItsKeys() {
        let options = TrainingOptions(checkpointFolder: nil, epochs: 1, accumulationSteps: 1, checkpointEvery: 0,
                                      classWeight: [0: 2, 2: 0.5], classes: 4)
        #expect(options.classWeights == [2, 1, 0.5, 1])
        #expect(TrainingOptions(checkpointFolder: nil, epochs: 1, accumulationSteps: 1, checkpointEvery: 0, classWeight: nil, classes: 4)
            .classWeights == nil)
    }

    /// scikit-learn's `compute_class_weight("balanced")`: n / (classes * count); a class
    /// with no examples gets none (it weighs 1 once sized).
    @Test func balancedWeightsFollowScikitLearnsFormula() {
        let weights = Model.balancedClassWeights(counts: [6, 2, 0, 4])
        let expected: [Int: Float] = [0: 12.0 / 24, 1: 12.0 / 8, 3: 12.0 / 16]
        #expect(weights == expected)
    }
}
