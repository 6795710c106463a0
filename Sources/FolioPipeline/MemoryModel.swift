import FolioCore
import FolioNN
import FolioShards
import FolioText

/// Peak training memory of a pipeline at a micro-batch size, broken down.
public struct MemoryEstimate: Encodable, Sendable, Equatable {
    public var microBatch: Int
    public var parameters: Int
    public var gradients: Int
    public var optimizerState: Int
    /// What the layers keep from forward for backward, plus the largest transient gradients
    /// of the backward pass, for one micro-batch at the longest sequence length.
    public var activations: Int
    /// Decoded records and prefetched batches of the training and validation loaders.
    public var loader: Int
    /// Measured: the process with its libraries and runtime before any model exists.
    public var fixed: Int
    /// TF-IDF weighting: the idf table with, while it is fitted, the document frequencies
    /// and scikit-learn's Double idf (20 bytes per input id at most), and a micro-batch's
    /// weights. 0 without weighting.
    public var weighting = 0
    /// A rank of a distributed run: the gradient reduction's buffers (Open MPI's allreduce
    /// works in temporary buffers up to the size of what it sums; Folio packs the touched
    /// rows of a lazily updated table): counted as one more copy of the gradients.
    public var reduction = 0
    /// Early stopping's copy of the best epoch's parameters, where no checkpoint folder
    /// holds it (a tune's trials); 0 otherwise.
    public var bestWeights = 0
    /// The table's gradients that training keeps none of in one process, or with its rows
    /// split between ranks, but that ranks splitting the batches (`split_embedding_rows =
    /// false`) sum: left out of ``gradients`` until ``perRank(of:)`` adds them.
    var tableGradientsOfBatchSplitRanks = 0

    public var total: Int { parameters + gradients + optimizerState + activations + loader + fixed + weighting + reduction + bestWeights }

    /// This estimate for one rank of `ranks` (the same model, optimizer and loader on each).
    public func perRank(of ranks: Int) -> MemoryEstimate {
        var estimate = self
        if ranks > 1 { estimate.gradients += tableGradientsOfBatchSplitRanks }
        estimate.reduction = ranks > 1 ? estimate.gradients : 0
        return estimate
    }

    enum CodingKeys: String, CodingKey {
        case parameters, gradients, activations, loader, fixed, weighting, reduction, total
        case microBatch = "micro_batch", optimizerState = "optimizer_state", bestWeights = "best_weights"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(microBatch, forKey: .microBatch)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(gradients, forKey: .gradients)
        try container.encode(optimizerState, forKey: .optimizerState)
        try container.encode(activations, forKey: .activations)
        try container.encode(loader, forKey: .loader)
        try container.encode(fixed, forKey: .fixed)
        try container.encode(weighting, forKey: .weighting)
        try container.encode(reduction, forKey: .reduction)
        try container.encode(bestWeights, forKey: .bestWeights)
        try container.encode(total, forKey: .total)
    }
}

/// Predicts the peak resident memory of a pipeline's training stage (the data stages have
/// budgets of their own: `vocabulary.memory`, about 50 MB for sharding).
///
/// Parameters, gradients and optimizer state are exact (4 bytes per float: the arena, a
/// gradient arena, Adam's two moments). Activations follow what each layer's forward pass
/// keeps for backward, as the layer's own file states it (``LayerFacts``: an LSTM keeps its
/// input, shared with the layer before, four gates, cells and hidden states per step)
/// through forward and backward to the busiest moment (see
/// ``activationFloatsPerRow(_:steps:)``); all per row and step, times the micro-batch and the
/// longest sequence (n-grams lengthen it). The loader holds at most its budget, and no more than the decoded corpus.
/// ``fixedBytes`` was measured (bench/memory_bench.sh), not guessed; the same script checks
/// predictions against measured peaks.
public enum MemoryModel {
    /// Resident memory of `folio run` before training allocates: binary, Swift runtime,
    /// Foundation, OpenBLAS buffers, ICU data. Measured (bench/memory_bench.sh's `tiny` row):
    /// a model of a few dozen parameters at micro-batch 1 peaks at 38.1-38.8 MB, of which
    /// the estimate's other parts are 3.7 MB (2026-12-06; 32 MB when first measured on 2026-11-29,
    /// as bench/results/memory.md records).
    public static let fixedBytes = 35 << 20
    /// The estimate for `config` at `microBatch`. `trainShards` (when the shards exist)
    /// bounds the loader by the decoded corpus. `keepsBestWeightsInMemory`: training without
    /// a checkpoint folder, where early stopping that restores keeps its copy in memory.
    public static func estimate(
        config: PipelineConfig, vocabularySize: Int, microBatch: Int, trainShards: ShardManifest? = nil, keepsBestWeightsInMemory: Bool = false
    ) -> MemoryEstimate {
        let ngrams = config.model.ngrams
        let inputDim = vocabularySize + (ngrams > 1 || config.model.subwords != nil ? config.model.buckets : 0)
        let parameterCount = parameterCount(config.model.layers, inputDim: inputDim)
        let optimizerBuffers: Int
        switch config.training.optimizer.kind {
        case .adam, .adamw: optimizerBuffers = config.training.optimizer.amsgrad ? 3 : 2
        case .sgd: optimizerBuffers = config.training.optimizer.momentum > 0 ? 1 : 0
        case .rmsprop:
            optimizerBuffers = 1 + (config.training.optimizer.centered ? 1 : 0) + (config.training.optimizer.momentum > 0 ? 1 : 0)
        case .rprop: optimizerBuffers = 2
        }
        // A bag's rows grow by their n-grams; a sequence model's steps average theirs.
        let appendsSubwords = Sequential.weightedPoolingIndex(config.model.layers) != nil
        let steps = sequenceSteps(maxLength: config.loader.maxLength, ngrams: ngrams, subwords: appendsSubwords ? config.model.subwords : nil)
        let subwords = config.model.subwords != nil
        let perRow = activationFloatsPerRow(config.model.layers, steps: steps, subwords: subwords)
        let trainActivations = Double(perRow * microBatch * 4)
        let evaluationActivations = Double(forwardFloatsPerRow(config.model.layers, steps: steps, subwords: subwords)
                                           * (config.evaluation.batchSize ?? microBatch) * 4)
        let weightedRows = max(microBatch, config.evaluation.batchSize ?? microBatch)
        let restores = keepsBestWeightsInMemory && config.training.earlyStopping?.restoreBestWeights == true
        // A table trained without a gradient leaves its gradient rows unwritten: no memory.
        var unkeptTableGradients = 0
        if case .embedding(let outputDim) = config.model.layers.first,
           Sequential.keepsNoTableGradient(config.model.layers, lazyUpdates: config.training.lazyEmbeddingUpdates,
                                           optimizer: config.training.optimizer, subwords: subwords) {
            unkeptTableGradients = inputDim * outputDim * 4
        }
        var estimate = MemoryEstimate(
            microBatch: microBatch, parameters: parameterCount * 4, gradients: parameterCount * 4 - unkeptTableGradients,
            optimizerState: optimizerBuffers * parameterCount * 4,
            activations: Int(max(trainActivations, evaluationActivations)),
            loader: loaderBytes(config, microBatch: microBatch, shards: trainShards), fixed: fixedBytes,
            weighting: config.model.weighting == nil ? 0 : 20 * inputDim + weightedRows * steps * 4,
            bestWeights: restores ? parameterCount * 4 : 0)
        if config.training.keepsEmbeddingRowsWhole == true { estimate.tableGradientsOfBatchSplitRanks = unkeptTableGradients }
        return estimate
    }

    /// Headroom the planner keeps: estimates ran up to 9.8% below measured peaks
    /// (bench/results/memory.md; what is not modelled is allocator slack), so a plan fits
    /// the estimate plus 10% into the limit.
    public static let planningMargin = 0.10

    /// The largest micro-batch whose estimate, plus ``planningMargin``, fits `limit` (nil
    /// when not even 1 does).
    public static func largestFittingMicroBatch(
        config: PipelineConfig, vocabularySize: Int, limit: Int, trainShards: ShardManifest? = nil
    ) -> Int? {
        func fits(_ batch: Int) -> Bool {
            Double(estimate(config: config, vocabularySize: vocabularySize, microBatch: batch, trainShards: trainShards).total)
                * (1 + planningMargin) <= Double(limit)
        }
        guard fits(1) else { return nil }
        var low = 1
        var high = 2
        while fits(high) {
            low = high
            high *= 2
            if high > 1 << 24 { return low }
        }
        while high - low > 1 {
            let middle = (low + high) / 2
            if fits(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// Ids a row reaches the network with. Character n-grams are estimated for words of
    /// eight characters (ten with the brackets): `10 - n + 1` n-grams of each length n.
    static func sequenceSteps(maxLength: Int, ngrams: Int, subwords: SubwordHashing? = nil) -> Int {
        let perWord = subwords.map { hashing in (hashing.minLength...hashing.maxLength).reduce(0) { $0 + max(0, 11 - $1) } } ?? 0
        return maxLength * (1 + perWord) + (ngrams >= 2 ? (2...ngrams).reduce(0) { $0 + max(0, maxLength - $1 + 1) } : 0)
    }

    /// Parameters of the model, counted from the layout ``Sequential`` builds, so the count is
    /// the arena's by construction (0 for layers that cannot be built: `folio plan` checks
    /// them first and names the layer).
    static func parameterCount(_ layers: [LayerSpec], inputDim: Int) -> Int {
        guard let layout = try? Sequential.layout(layers, vocabulary: inputDim) else { return 0 }
        return layout.parameters.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// Each layer's facts on sequences of `steps` steps, as its own file states them (the
    /// vocabulary changes no activation; empty for layers that cannot be built: `folio plan`
    /// checks them first and names the layer).
    private static func layerFacts(_ layers: [LayerSpec], steps: Int, subwords: Bool) -> [(facts: LayerFacts, input: Int)] {
        guard let layout = try? Sequential.layout(layers, vocabulary: 1, steps: steps) else { return [] }
        let inputs = [layout.input] + layout.layers.dropLast().map(\.output)
        var facts = zip(layout.layers, inputs).map { ($0, $1.floats) }
        if Sequential.poolsTableDirectly(layers, subwords: subwords) {
            // The table pooled straight from its rows: one pass from ids to the pooled row,
            // keeping each step's id and weight and the row's divisor.
            var pass = facts[1].0
            pass.keptFloats = 2 * steps + 1
            facts.replaceSubrange(0..<2, with: [(pass, facts[0].1)])
        }
        return facts
    }

    /// Training's busiest moment. Forward through layer i holds the caches of layers up to
    /// i, its input and its new output (an output lives on only as the next layer's cache,
    /// counted there). Backward through layer i holds the caches not yet released (a
    /// recurrent layer releases its own as its backward ends), the gradient of its output
    /// and that of its input.
    static func activationFloatsPerRow(_ layers: [LayerSpec], steps: Int, subwords: Bool = false) -> Int {
        let layers = layerFacts(layers, steps: steps, subwords: subwords)
        var peak = forwardFloats(layers)
        for (index, layer) in layers.enumerated() {
            let alive = layers.enumerated().reduce(0) { sum, entry in
                sum + (entry.offset <= index || !entry.element.facts.releasedByBackward ? entry.element.facts.keptFloats : 0)
            }
            peak = max(peak, alive + layer.facts.output.floats + layer.input + layer.facts.backwardExtraFloats)
        }
        return peak
    }

    /// Inference (validation and test batches): the forward part alone.
    static func forwardFloatsPerRow(_ layers: [LayerSpec], steps: Int, subwords: Bool = false) -> Int {
        forwardFloats(layerFacts(layers, steps: steps, subwords: subwords))
    }

    private static func forwardFloats(_ layers: [(facts: LayerFacts, input: Int)]) -> Int {
        var kept = 0
        var peak = 0
        for (facts, input) in layers {
            kept += facts.keptFloats
            peak = max(peak, kept + (facts.keepsInput ? 0 : input) + facts.output.floats + facts.forwardExtraFloats)
        }
        return peak
    }

    static func loaderBytes(_ config: PipelineConfig, microBatch: Int, shards: ShardManifest?) -> Int {
        let batchBytes = microBatch * config.loader.maxLength * 4 + microBatch * 16
        let prefetched = (config.loader.prefetch + 2) * batchBytes
        var window = config.loader.memoryBudget - prefetched
        if let shards {
            // Decoded ids (4 bytes per kept token) and ~128 bytes per record in the window's
            // dictionaries, for the training side and the validation side together.
            window = min(window, shards.tokens * 4 + shards.records * 128)
        }
        return max(0, window) + prefetched
    }
}
