import FolioCore
import FolioNN
import FolioShards
import FolioTestSupport
import FolioText
import Foundation
import Testing
@testable import FolioPipeline

/// Data-parallel training with ranks as threads (``ThreadCommunicator``): N ranks each
/// accumulating k micro-batches train the model one rank accumulating N * k trains.
@Suite struct DistributedTrainingTests {
    let folder = TemporaryFolder()

    /// 90 records, 12 batches of 8 an epoch.
    init() throws { try TrainerTests.writeLearnableShards(into: folder.path) }

    /// Trains 2 epochs on `communicator`'s share and returns the weights (and the trainer's
    /// history of epoch losses).
    static func train(_ folder: String, accumulation: Int, lazy: Bool, sgd: Bool = false,
                      communicator: any Communicator) throws -> (weights: [Float], losses: [Double], sparse: Bool) {
        // A table of 60 rows of which the data touch 24: a step's union stays under half
        // the table, so lazy tables go the sparse way (rows exchanged, not the table).
        let model = try Sequential([.embedding(outputDim: 6), .lstm(units: 6, returnSequences: true, dropout: 0.2, recurrentDropout: 0.1),
                                    .globalAveragePooling1D, .dropout(rate: 0.2), .dense(units: 3)], vocabulary: 60, seed: 7)
        if lazy { model.makeEmbeddingsRowSparse() }
        // Plain SGD updates each row from its gradient alone: the ranks split a lazy
        // table's update (GradientReduction.splitsRowUpdates); Adam's rows keep moments.
        let optimizer: any Optimizer = sgd ? SGD(arena: model.arena, learningRate: 0.5) : Adam(arena: model.arena, learningRate: 0.02)
        let trainer = try fit(model, optimizer: optimizer, folder, accumulation: accumulation, communicator: communicator,
                              loaderRank: (communicator.rank, communicator.size))
        let sparse = trainer.reduction.map { $0.lastRowIDs > 0 && $0.lastFloats < model.arena.count } ?? false
        return (Array(model.arena.values), trainer.history.map(\.loss), sparse)
    }

    /// Trains `model` 2 epochs, checking the weights after every step, on the loader made
    /// for `loaderRank`'s turns (of `of` ranks) with `accumulation` steps, and returns the trainer.
    static func fit(_ model: Sequential, optimizer: any Optimizer, _ folder: String, accumulation: Int, communicator: any Communicator,
                    loaderRank: (rank: Int, of: Int), dealsRows: Bool = false) throws -> Trainer {
        let trainer = try makeTrainer(model, optimizer: optimizer, folder, accumulation: accumulation, communicator: communicator,
                                      loaderRank: loaderRank, dealsRows: dealsRows)
        try trainer.fit()
        return trainer
    }

    static func makeTrainer(_ model: Sequential, optimizer: any Optimizer, _ folder: String, accumulation: Int, communicator: any Communicator,
                            loaderRank: (rank: Int, of: Int), dealsRows: Bool = false, validates: Bool = false,
                            callbacks: [any Callback] = [], adjust: (inout TrainingOptions) -> Void = { _ in }) throws -> Trainer {
        var loaderOptions = LoaderOptions(batchSize: 8, maxLength: 10, seed: 3, memoryBudget: 1 << 16, prefetch: 2)
        (loaderOptions.rank, loaderOptions.worldSize, loaderOptions.groupSize) = (loaderRank.rank, loaderRank.of, accumulation)
        let loader = try ShardLoader(shards: try ShardSet(folder: folder), options: loaderOptions)
        // The training records again, in order, each rank evaluating its part.
        let validationOptions = LoaderOptions(batchSize: 8, maxLength: 10, shuffle: false, memoryBudget: 1 << 16, prefetch: 2,
                                              rank: communicator.rank, worldSize: communicator.size)
        let validation = validates ? try ShardLoader(shards: try ShardSet(folder: folder), options: validationOptions) : nil
        var options = TrainingOptions()
        options.epochs = 2
        options.accumulationSteps = accumulation
        options.weightCheckEvery = 1
        options.dealsEmbeddingRows = dealsRows
        adjust(&options)
        return Trainer(model: model, optimizer: optimizer, loader: loader, validation: validation, options: options, callbacks: callbacks,
                       communicator: communicator)
    }

    /// (ranks, accumulation): groups that divide the epoch's 12 micro-batches and groups
    /// that run across its end (2 x 5 = 10, 3 x 3 = 9).
    /// With and without lazy (row-sparse) embedding updates; with plain SGD, whose lazy
    /// updates the ranks split between them.
    @Test(arguments: [(2, 1, false, false), (2, 5, false, false), (3, 3, false, false), (2, 1, true, false), (3, 3, true, false),
                      (2, 1, true, true), (3, 3, true, true)])
    func nRanksTimesKEqualOneRankTimesNK(ranks: Int, accumulation: Int, lazy: Bool, sgd: Bool) throws {
        let path = folder.path
        let reference = try Self.train(path, accumulation: ranks * accumulation, lazy: lazy, sgd: sgd, communicator: SingleProcess())
        let run = { @Sendable (communicator: ThreadCommunicator) in
            try Self.train(path, accumulation: accumulation, lazy: lazy, sgd: sgd, communicator: communicator)
        }
        let first = try ThreadCommunicator.run(ranks: ranks, run)
        let second = try ThreadCommunicator.run(ranks: ranks, run)
        // Every rank holds the same weights, the same as another run's bit for bit.
        #expect(first.allSatisfy { $0.weights == first[0].weights })
        #expect(first[0].sparse == lazy)
        #expect(first[0].weights == second[0].weights)
        // Against one rank: the same arithmetic but for the order of the sums.
        let difference = zip(first[0].weights, reference.weights).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-5, "largest difference \(difference)")
        #expect(reference.weights != Array(repeating: 0, count: reference.weights.count))
        // The epoch figures are every rank's together.
        #expect(zip(first[0].losses, reference.losses).allSatisfy { abs($0 - $1) < 1e-5 }, "\(first[0].losses) vs \(reference.losses)")
    }

    /// A bag model (embedding, average pooling, dense) with lazy updates and plain SGD,
    /// its table's rows dealt between the ranks: every rank runs every micro-batch (a
    /// loader made for one rank), pooling and updating its own rows.
    static func trainDealingRows(_ folder: String, accumulation: Int, weighted: Bool = false, communicator: any Communicator,
                                 loaderRank: (rank: Int, of: Int) = (0, 1)) throws -> (weights: [Float], losses: [Double], dealt: Bool) {
        let trainer = try bagTrainerDealingRows(folder, accumulation: accumulation, weighted: weighted, communicator: communicator,
                                                loaderRank: loaderRank)
        try trainer.fit()
        return (Array(trainer.model.arena.values), trainer.history.map(\.loss), trainer.shardedEmbedding != nil)
    }

    /// Hashed bigrams (40 buckets after the 60 words) weighted by an idf that varies by id
    /// and is 0 for every seventh (ids a weighting drops), for a sqrt(n) pooling: the shipped
    /// bag recipe's features, at this test's size.
    static let weightedFeatures: InputFeatures = {
        let idf: [Float] = (0..<100).map { (id: Int) -> Float in id % 7 == 3 ? 0 : 1 + Float(id % 5) * 0.4 }
        return InputFeatures(ngrams: NgramHashing(order: 2, buckets: 40, vocabularySize: 60), weighting: TFIDFWeighting(idf: idf, documents: 90))
    }()

    static func bagTrainerDealingRows(_ folder: String, accumulation: Int, weighted: Bool = false, communicator: any Communicator,
                                      loaderRank: (rank: Int, of: Int) = (0, 1), validates: Bool = false, callbacks: [any Callback] = [],
                                      adjust: (inout TrainingOptions) -> Void = { _ in }) throws -> Trainer {
        let model = try Sequential([.embedding(outputDim: 6), weighted ? .globalSqrtNPooling1D : .globalAveragePooling1D, .dense(units: 3)],
                                   vocabulary: weighted ? 100 : 60, seed: 7)
        model.makeEmbeddingsRowSparse()
        return try makeTrainer(model, optimizer: SGD(arena: model.arena, learningRate: 0.5), folder, accumulation: accumulation,
                               communicator: communicator, loaderRank: loaderRank, dealsRows: true, validates: validates,
                               callbacks: callbacks) { options in
            if weighted { options.features = Self.weightedFeatures }
            adjust(&options)
        }
    }

    /// A rank's features are the whole row's restricted to its ids: an id's duplicates go
    /// with it, so its term frequency and TF-IDF weight are the row's, and the ranks' parts
    /// together are the row.
    @Test func eachRanksFeaturesAreTheRowsOwnRestrictedToItsIDs() {
        let batch = TokenBatch(rows: 3, length: 6, ids: [5, 6, 5, 9, 12, 5, 8, 8, 0, 0, 0, 0, 33, 2, 41, 2, 17, 0],
                               lengths: [6, 2, 5])
        let bag = { (batch: TokenBatch, row: Int) in
            Dictionary(uniqueKeysWithValues: (0..<Int(batch.lengths[row])).map { (batch.ids[row * batch.length + $0], batch.weights![row * batch.length + $0]) })
        }
        let whole = Self.weightedFeatures(batch)
        let parts = (0..<2).map { rank in Self.weightedFeatures(batch, keeping: RowDeal(rank: rank, count: 2)) }
        for row in 0..<3 {
            let (even, odd) = (bag(parts[0], row), bag(parts[1], row))
            #expect(even.keys.allSatisfy { $0 % 2 == 0 } && odd.keys.allSatisfy { $0 % 2 == 1 })
            #expect(even.merging(odd) { first, _ in first } == bag(whole, row), "row \(row)")
        }
        // Row 0 repeats word 5 three times: its weight is the row's, not one occurrence's.
        #expect(bag(parts[1], 0)[5] == bag(whole, 0)[5] && bag(whole, 0)[5] != Self.weightedFeatures(TokenBatch(rows: 1, length: 1, ids: [5], lengths: [1])).weights?[0])
    }

    /// Ranks that deal the table's rows hear of a stop signal and of a spent time budget
    /// through the notices that come with each micro-batch's pooled sums, not by collectives
    /// of their own: a signal only rank 1 got, or a budget only rank 1's clock passed,
    /// stops both ranks after the same optimizer step (a rank that went on alone would
    /// wait in a collective the other never joins).
    @Test func aStopThatOnlyOneRankDealingRowsSawStopsEveryRankAtTheSameStep() throws {
        let path = folder.path
        let signalled = try ThreadCommunicator.run(ranks: 2) { communicator in
            let request = StopRequest()
            let trainer = try Self.bagTrainerDealingRows(path, accumulation: 1, communicator: communicator) { $0.stopRequest = request }
            // Rank 1 is asked to stop after the first micro-batch of step 2 (a step is 2 x 1):
            // its notice goes with the next one's pooled sums, so both stop after step 2.
            if communicator.rank == 1 { trainer.onProgress = { if $0.batch == 3 { request.request(signal: SIGINT) } } }
            do {
                try trainer.fit()
                return (message: "finished", steps: trainer.optimizer.iterations)
            } catch { return (message: "\(error)", steps: trainer.optimizer.iterations) }
        }
        #expect(signalled.map(\.steps) == [2, 2])
        #expect(signalled[0].message.contains("interrupted by SIGTERM") && signalled[1].message.contains("interrupted by SIGINT"), "\(signalled)")

        let outOfTime = try ThreadCommunicator.run(ranks: 2) { communicator in
            let trainer = try Self.bagTrainerDealingRows(path, accumulation: 1, communicator: communicator) {
                if communicator.rank == 1 { $0.maxSeconds = 1e-9 }
            }
            try trainer.fit()
            return (steps: trainer.optimizer.iterations, epochs: trainer.history.count)
        }
        // Out of time from the start: the first step ends the run, on both ranks.
        #expect(outOfTime.map(\.steps) == [1, 1] && outOfTime.map(\.epochs) == [1, 1], "\(outOfTime)")
    }

    /// Unweighted mean pooling, and the shipped recipe's hashed bigrams with TF-IDF weights
    /// pooled by sqrt(n) (each rank's rows' divisor a partial sum of squares).
    @Test(arguments: [(2, 1, false), (2, 5, false), (3, 3, false), (2, 1, true), (3, 3, true)])
    func ranksDealingTheTablesRowsTrainWhatOneRankTrains(ranks: Int, accumulation: Int, weighted: Bool) throws {
        let path = folder.path
        let reference = try Self.trainDealingRows(path, accumulation: ranks * accumulation, weighted: weighted, communicator: SingleProcess())
        #expect(!reference.dealt)
        let run = { @Sendable (communicator: ThreadCommunicator) in
            try Self.trainDealingRows(path, accumulation: accumulation, weighted: weighted, communicator: communicator)
        }
        let first = try ThreadCommunicator.run(ranks: ranks, run)
        let second = try ThreadCommunicator.run(ranks: ranks, run)
        #expect(first.allSatisfy { $0.dealt })
        // Synchronized at the end: every rank holds the whole table, as another run does.
        #expect(first.allSatisfy { $0.weights == first[0].weights })
        #expect(first[0].weights == second[0].weights)
        let difference = zip(first[0].weights, reference.weights).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-5, "largest difference \(difference)")
        // The epoch figures, counted once though every rank ran every batch.
        #expect(zip(first[0].losses, reference.losses).allSatisfy { abs($0 - $1) < 1e-5 }, "\(first[0].losses) vs \(reference.losses)")
    }

    /// Validation and a callback that reads the weights see, at every epoch's end, the
    /// whole table as one process holds it, though nothing else reads it there: the ranks
    /// that deal its rows gather them for them, and only for them.
    @Test(arguments: [(true, false), (false, true), (false, false)])
    func ranksDealingRowsGatherThemForValidationAndCallbacksThatReadWeights(validates: Bool, readsWeights: Bool) throws {
        let path = folder.path
        let train = { @Sendable (communicator: any Communicator, accumulation: Int) throws -> (losses: [Double?], sums: [Double]) in
            let recorder = WeightSums(readsWeights: readsWeights)
            let trainer = try Self.bagTrainerDealingRows(path, accumulation: accumulation, weighted: true, communicator: communicator,
                                                         validates: validates, callbacks: [recorder]) { $0.epochs = 3 }
            try trainer.fit()
            return (trainer.history.map(\.valLoss), recorder.sums)
        }
        let reference = try train(SingleProcess(), 2)
        let ranks = try ThreadCommunicator.run(ranks: 2) { try train($0, 1) }
        let close = { (a: [Double], b: [Double]) in a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-4 * max(1, abs($1)) } }
        #expect(reference.sums.count == 3)
        if validates {
            #expect(close(ranks[0].losses.compactMap { $0 }, reference.losses.compactMap { $0 }) && reference.losses.allSatisfy { $0 != nil },
                    "\(ranks[0].losses) vs \(reference.losses)")
        }
        if validates || readsWeights {
            #expect(ranks.allSatisfy { close($0.sums, reference.sums) }, "\(ranks.map(\.sums)) vs \(reference.sums)")
        } else {
            // Read by nothing, the first two epochs' rows stay dealt: a rank's table is not
            // the whole one until the last epoch's end gathers them.
            #expect(ranks.allSatisfy { !close(Array($0.sums[..<2]), Array(reference.sums[..<2])) && close([$0.sums[2]], [reference.sums[2]]) })
        }
    }

    /// A checkpoint every step, `checkpointSeconds` longer than the run: rank 0 writes the
    /// last alone, and the ranks gather each other's rows only for it and the epoch ends,
    /// as a run without step checkpoints does, not at every step rank 0 then skips.
    @Test func ranksDealingRowsGatherThemOnlyForCheckpointsRankZeroWrites() throws {
        let path = folder.path
        let run = { @Sendable (every: Int, seconds: Double?) throws -> [(rows: Int, written: Int, skipped: Int, weights: [Float])] in
            let checkpoints = TemporaryFolder()
            return try ThreadCommunicator.run(ranks: 2) { communicator in
                let trainer = try Self.bagTrainerDealingRows(path, accumulation: 1, communicator: communicator) { options in
                    (options.checkpointFolder, options.checkpointEvery, options.checkpointSeconds) = (checkpoints.path, every, seconds)
                }
                try trainer.fit()
                return (trainer.shardedEmbedding?.rowsSent ?? -1, trainer.checkpointsWritten, trainer.checkpointsSkipped,
                        Array(trainer.model.arena.values))
            }
        }
        let epochEnds = try run(0, nil)
        let everyStep = try run(1, nil)
        let sparse = try run(1, 1e6)
        // Two ranks dealing rows step once every 2 of an epoch's 12 micro-batches (as one
        // rank accumulating 2): 12 steps' checkpoints and 2 epoch ends.
        #expect(epochEnds.map(\.written) == [2, 0] && everyStep.map(\.written) == [14, 0])
        #expect(sparse.map(\.written) == [1, 0] && sparse.map(\.skipped) == [13, 0])
        #expect(everyStep[0].rows > epochEnds[0].rows, "the steps' checkpoints gather rows")
        // Held back at the first epoch's end, where nothing else reads the table, the rows
        // stay dealt: the last epoch's gathering brings both epochs' rows, each row once.
        #expect(sparse.allSatisfy { $0.rows > 0 } && sparse[0].rows < epochEnds[0].rows && sparse[1].rows < epochEnds[1].rows)
        #expect(sparse[0].weights == epochEnds[0].weights && sparse[1].weights == epochEnds[1].weights)
    }

    /// Subword ids per position cannot be split between the ranks' rows: every rank stops
    /// with the model's error (the features hand such a batch on whole), not a trap.
    @Test func dealingRowsRefusesSubwordIDsPerPosition() throws {
        let path = folder.path
        let outcomes = try ThreadCommunicator.run(ranks: 2) { communicator in
            let tokens = ["<pad>", "<oov>"] + (2..<60).map { "word\($0)" }
            let subwords = SubwordFeatures(table: SubwordTable(hashing: SubwordHashing(minLength: 2, maxLength: 3), tokens: tokens),
                                           buckets: 40, perPosition: true)
            // The weighted model's table: 60 words and 40 buckets, here the subwords'.
            let trainer = try Self.bagTrainerDealingRows(path, accumulation: 1, weighted: true, communicator: communicator) {
                $0.features = InputFeatures(subwords: subwords)
            }
            do {
                try trainer.fit()
                return ""
            } catch { return "\(error)" }
        }
        #expect(outcomes.allSatisfy { $0.contains("cannot be pooled straight from the table (it carries subword ids)") }, "\(outcomes)")
    }

    /// Dealing rows needs every batch on every rank: a loader made for one rank's turns is refused.
    @Test func dealingRowsRefusesALoaderOfOneRanksTurns() throws {
        let path = folder.path
        let outcomes = try ThreadCommunicator.run(ranks: 2) { communicator in
            do {
                _ = try Self.trainDealingRows(path, accumulation: 1, communicator: communicator, loaderRank: (communicator.rank, 2))
                return ""
            } catch { return "\(error)" }
        }
        #expect(outcomes.allSatisfy { $0.contains("the embedding's rows are dealt between the ranks") && $0.contains("made for rank") }, "\(outcomes)")
    }
}

/// Records the sum of the squares of the model's weights at each epoch's end; `readsWeights` says so to the
/// trainer (a callback that did not, reading them, would see a dealt table's stale rows).
private final class WeightSums: Callback {
    let name = "weight_sums"
    var state: [String: Double] = [:]
    let readsWeightsOrStops: Bool
    private(set) var sums: [Double] = []

    init(readsWeights: Bool) { readsWeightsOrStops = readsWeights }

    func epochEnded(_ logs: EpochLogs, history: [EpochLogs], context: CallbackContext) throws(FolioError) {
        sums.append(context.model.arena.values.reduce(0) { $0 + Double($1) * Double($1) })
    }
}
