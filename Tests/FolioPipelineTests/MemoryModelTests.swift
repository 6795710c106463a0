import FolioNN
import FolioTestSupport
import Testing
@testable import FolioPipeline

@Suite struct MemoryModelTests {
    let layers: [LayerSpec] = [.embedding(outputDim: 8), .lstm(units: 4, returnSequences: true), .globalMaxPooling1D, .dense(units: 3)]

    func config(optimizer: OptimizerSpec.Kind = .adam) -> PipelineConfig {
        var config = PipelineConfig(name: "m", corpus: .init(path: "/c"))
        config.model.layers = layers
        config.loader.maxLength = 10
        config.loader.memoryBudget = 1 << 20
        config.training.optimizer = OptimizerSpec(kind: optimizer)
        return config
    }

    @Test func parametersGradientsAndOptimizerStateAreExact() throws {
        let arena = try Sequential(layers, vocabulary: 100, seed: 1).arena
        // 100 x 8 embedding; LSTM 4 x 4 gates x (8 inputs + 4 recurrent + 1 bias); 4 x 3 + 3 dense.
        #expect(arena.count == 800 + 208 + 15)
        for (kind, buffers) in [(OptimizerSpec.Kind.adam, 2), (.sgd, 0), (.rmsprop, 1)] {
            let estimate = MemoryModel.estimate(config: config(optimizer: kind), vocabularySize: 100, microBatch: 1)
            #expect(estimate.parameters == arena.count * 4 && estimate.gradients == arena.count * 4)
            #expect(estimate.optimizerState == buffers * arena.count * 4, "\(kind)")
        }
        var ngrams = config()
        ngrams.model.ngrams = 2
        ngrams.model.buckets = 50
        #expect(MemoryModel.estimate(config: ngrams, vocabularySize: 100, microBatch: 1).parameters == (arena.count + 50 * 8) * 4)
        #expect(MemoryModel.estimate(config: ngrams, vocabularySize: 100, microBatch: 1).weighting == 0)
        // TF-IDF: 20 bytes per input id (vocabulary + buckets) and a weight per step of the batch.
        var weighted = ngrams
        weighted.model.weighting = .tfidf
        let moreBuckets = { () -> PipelineConfig in var copy = weighted; copy.model.buckets = 150; return copy }()
        let one = MemoryModel.estimate(config: weighted, vocabularySize: 100, microBatch: 1).weighting
        #expect(MemoryModel.estimate(config: moreBuckets, vocabularySize: 100, microBatch: 1).weighting - one == 100 * 20)
        #expect(one >= 150 * 20)
        // Early stopping restoring without a checkpoint folder (a tune's trial) keeps a copy
        // of the parameters; with a folder, or without restoring, nothing more.
        var stopping = config()
        stopping.training.earlyStopping = .init(monitor: "val_loss", patience: 2, restoreBestWeights: true)
        let inMemory = MemoryModel.estimate(config: stopping, vocabularySize: 100, microBatch: 1, keepsBestWeightsInMemory: true)
        #expect(inMemory.bestWeights == arena.count * 4)
        #expect(inMemory.total - MemoryModel.estimate(config: stopping, vocabularySize: 100, microBatch: 1).total == arena.count * 4)
        #expect(MemoryModel.estimate(config: config(), vocabularySize: 100, microBatch: 1, keepsBestWeightsInMemory: true).bestWeights == 0)
    }

    /// A bag trained lazily by plain SGD keeps no gradient for its table: the estimate leaves
    /// those bytes out, for one process and for ranks that split the table's rows, and counts
    /// them (with the reduction's copy) for ranks that split the batches; with Adam, or
    /// without lazy updates, the table's gradients count.
    @Test func aTableTrainedWithoutAGradientTakesNoGradientMemory() throws {
        var bag = config(optimizer: .sgd)
        bag.model.layers = [.embedding(outputDim: 8), .globalAveragePooling1D, .dense(units: 3)]
        bag.training.lazyEmbeddingUpdates = true
        let arena = try Sequential(bag.model.layers, vocabulary: 100, seed: 1).arena
        let table = 100 * 8 * 4
        let lazy = MemoryModel.estimate(config: bag, vocabularySize: 100, microBatch: 4)
        #expect(lazy.parameters == arena.count * 4 && lazy.gradients == arena.count * 4 - table)
        #expect(lazy.perRank(of: 2).gradients == lazy.gradients && lazy.perRank(of: 2).reduction == lazy.gradients)
        var wholeRows = bag
        wholeRows.training.keepsEmbeddingRowsWhole = true
        let batchSplit = MemoryModel.estimate(config: wholeRows, vocabularySize: 100, microBatch: 4)
        #expect(batchSplit.gradients == lazy.gradients && batchSplit.perRank(of: 1).gradients == lazy.gradients)
        #expect(batchSplit.perRank(of: 2).gradients == arena.count * 4 && batchSplit.perRank(of: 2).reduction == arena.count * 4)
        var adam = bag
        adam.training.optimizer = OptimizerSpec(kind: .adam)
        var eager = bag
        eager.training.lazyEmbeddingUpdates = false
        for other in [adam, eager] {
            #expect(MemoryModel.estimate(config: other, vocabularySize: 100, microBatch: 4).gradients == arena.count * 4)
        }
        // Pooled straight from the table, a bag makes no [steps, features] output: a step costs
        // its id and weight kept and its id read (3 floats), whatever the width; with subword
        // ids the layer path makes it (the width's 8 floats more a step).
        for width in [8, 64] {
            let layers: [LayerSpec] = [.embedding(outputDim: width), .globalAveragePooling1D, .dense(units: 3)]
            let perStep = { (subwords: Bool) in
                (MemoryModel.activationFloatsPerRow(layers, steps: 20, subwords: subwords)
                    - MemoryModel.activationFloatsPerRow(layers, steps: 10, subwords: subwords)) / 10
            }
            #expect(perStep(false) == 3 && perStep(true) >= width, "width \(width)")
        }
    }

    @Test func activationsGrowLinearlyWithTheMicroBatchAndTheSequence() throws {
        // Per row: the embedding keeps 10 ids (in 10, out 80); the LSTM caches 10 x (8 input +
        // 4 x 4 gates + 4 cells + 4 hidden) (in 80, out 40); the pooling keeps 4 (in 40, out
        // 4); dense keeps its input 4 (out 3). Through the LSTM forward holds 10 + 320 cached
        // (its input among them: it keeps the embedding's output, not a copy), its output 40
        // and, while it runs, the table of its batch's distinct ids' projections: at most 5
        // ids a row x 4 gates x 4 units, with each position's slot and 8 map entries (170).
        // That is its busiest moment: one layer on, through the pooling, it holds 10 + 320 + 4
        // cached, the LSTM's output 40 and its own 4 (378); backward through the LSTM, the
        // caches of all layers (+ 4 + 4) and the gradients of its input (80) and output (40):
        // 458.
        let steps = 10
        let table = 5 * 4 * 4 + 10 + 8 * 10
        #expect(MemoryModel.activationFloatsPerRow(layers, steps: steps) == 10 + 320 + 40 + table)
        #expect(MemoryModel.forwardFloatsPerRow(layers, steps: steps) == 10 + 320 + 40 + table)
        let one = MemoryModel.estimate(config: config(), vocabularySize: 100, microBatch: 1)
        let eight = MemoryModel.estimate(config: config(), vocabularySize: 100, microBatch: 8)
        #expect(eight.activations == 8 * one.activations)
        #expect(MemoryModel.sequenceSteps(maxLength: 10, ngrams: 3) == 10 + 9 + 8)
    }

    @Test func theLargestFittingMicroBatchIsTheLastThatFits() throws {
        let base = MemoryModel.estimate(config: config(), vocabularySize: 100, microBatch: 1).total
        let limit = base * 2
        let margin = 1 + MemoryModel.planningMargin
        let batch = try #require(MemoryModel.largestFittingMicroBatch(config: config(), vocabularySize: 100, limit: limit))
        #expect(Double(MemoryModel.estimate(config: config(), vocabularySize: 100, microBatch: batch).total) * margin <= Double(limit))
        #expect(Double(MemoryModel.estimate(config: config(), vocabularySize: 100, microBatch: batch + 1).total) * margin > Double(limit))
        #expect(MemoryModel.largestFittingMicroBatch(config: config(), vocabularySize: 100, limit: base) == nil, "no room for the margin")
    }
}

@Suite struct ModelCompileTests {
    @Test func anUnknownMetricIsAnErrorAndAccuracyIsAccepted() throws {
        let model = try Model([.embedding(outputDim: 4), .globalAveragePooling1D, .dense(units: 2)], vocabulary: 10, seed: 1)
        #expect(throws: FolioError.self) { try model.compile(optimizer: OptimizerSpec(), metrics: ["auc"]) }
        #expect(model.optimizer == nil)
        try model.compile(optimizer: OptimizerSpec(), metrics: ["accuracy"])
        #expect(model.optimizer != nil)
    }
}
