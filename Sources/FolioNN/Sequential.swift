import FolioCore

/// Layers in a row, built from ``LayerSpec``s with every shape inferred from the token ids
/// in: one ``ParameterArena`` for all parameters (named `layers.<i>.<parameter>`), lengths
/// (the mask) carried through so that sequence layers and poolings see only real steps.
public final class Sequential {
    public let specs: [LayerSpec]
    public let arena: ParameterArena
    /// Output shape per layer, without the batch (`[steps?, features]`; steps -1: any).
    public let shapes: [[Int]]
    public let seed: UInt64
    /// The training step (micro-batch) the next forward belongs to: dropout masks are drawn
    /// from (seed, step, layer) alone, so a resumed run draws exactly the masks it would have.
    public var step: UInt64 = 0
    /// Threads for the recurrent layers' lanes (2 unless set): a property of this model, so
    /// models in one process never share it; results do not depend on it.
    public var threads = 2 {
        didSet { forEachLSTM { $0.threads = threads } }
    }
    /// The kernels of every layer that computes products (``KernelSet/selected`` unless set).
    public var kernels = KernelSet.selected {
        didSet { for layer in layers { layer.use(kernels) } }
    }
    private let layers: [any SequentialLayer]
    /// Set by a training forward that pooled the table directly (an embedding then a summing
    /// global pooling, nothing between): the backward ends in their fused scatter.
    private var fusedBag: (embedding: Embedding, pool: GlobalPooling1D, next: Int)?
    /// A model that only predicts and starts with an embedding read by an LSTM (or a
    /// bidirectional one): the table projected through the input kernels, shared with the
    /// copies predicting on other threads (nil otherwise, or beyond ``ProjectedEmbedding/limit``),
    /// with this copy's own layers that read it and the index the layers go on at.
    private let projection: (table: ProjectedEmbedding, embedding: Embedding, reader: EmbeddingReader, next: Int)?
    var projectedEmbedding: ProjectedEmbedding? { projection?.table }
    /// Whether training may pool the table directly; false gives the layer-by-layer path,
    /// which tests hold the fused one to, bit for bit.
    var fusesBagInTraining = true
    /// Whether a bag pooled straight from a lazy table and trained by plain SGD takes each
    /// row's update share by share as the pooling's backward computes it (fastText's update;
    /// with several micro-batches a step, each one's shares wait for the step's end), instead
    /// of summing the rows' gradients for the optimizer to scale, check, apply and clear:
    /// four passes over every touched row, more than half of such a step. The same update but
    /// for rounding (a row in several documents gets their shares one at a time); false gives
    /// the summing path, which tests hold this one to. Not with a gradient reduction across
    /// ranks before the step: that needs the summed gradients.
    var updatesTableInBackward = true

    /// Whether training keeps no gradient for the embedding table (``updatesTableInBackward``'s
    /// way): an embedding pooled at once by a summing global pooling, updated lazily by plain
    /// SGD (no momentum, no clipping), batches without subword ids (those take the layer
    /// path), and no gradient summed across ranks before the step, as ranks that split the
    /// batches need (those that split the table's rows do not). The table's gradient rows are
    /// then never written, and take no memory (``ParameterArena``): what the memory model
    /// leaves out.
    public static func keepsNoTableGradient(_ specs: [LayerSpec], lazyUpdates: Bool, optimizer: OptimizerSpec, subwords: Bool) -> Bool {
        lazyUpdates && optimizer.isPlainSGD && poolsTableDirectly(specs, subwords: subwords)
    }

    /// Whether training and prediction pool the embedding table straight into the pooling
    /// (the rule ``poolsTableInTraining`` follows, and the memory model with it): an embedding
    /// followed at once by a summing global pooling, batches without subword ids. No `[steps,
    /// features]` output is made; the pass keeps each step's id and weight and each row's divisor.
    public static func poolsTableDirectly(_ specs: [LayerSpec], subwords: Bool) -> Bool {
        guard !subwords, specs.count >= 2, case .embedding = specs[0] else { return false }
        switch specs[1] {
        case .globalAveragePooling1D, .globalSqrtNPooling1D: return true
        default: return false
        }
    }

    /// The micro-batches of the step under way, until its end updates the table with them.
    private var pendingTableUpdates: [(pass: GlobalPooling1D.TablePass, gradient: Tensor)] = []
    /// Marks the table rows the step under way updates at its end (what a distributed run's
    /// ranks must share, ``RowShard``): run by hooks the accumulator runs at the step.
    public func markTableRowsAwaitingUpdate(in marks: inout RowMarks) {
        for (pass, _) in pendingTableUpdates { pass.markUpdatedIDs(in: &marks) }
    }
    /// A distributed run's deal of the embedding table's rows (``RowShard``), used by
    /// training passes; only a model that ``poolsTableInTraining`` takes one.
    public var rowShard: RowShard?

    /// Whether training pools the embedding table straight into a summing global pooling
    /// (an embedding bag with nothing between), for batches without subword ids.
    public var poolsTableInTraining: Bool {
        fusesBagInTraining && Self.poolsTableDirectly(specs, subwords: false)
    }

    private func forEachLSTM(_ body: (LSTM) -> Void) {
        for layer in layers { layer.lstms.forEach(body) }
    }

    /// The most values one parameter tensor may hold (16 GiB of floats): beyond it a size is
    /// taken for a mistake, not allocated.
    public static let maxParametersPerTensor = 1 << 32

    /// Every layer's facts (``LayerFacts``: parameters, output shape, kept activations) on
    /// token ids of `steps` steps, each from the layer's own file; an error naming the layer
    /// when one cannot take its input. What ``init(_:vocabulary:seed:trainable:initializes:)``
    /// builds and what the memory model counts, so the two never disagree. `vocabulary`
    /// sizes the first layer (an Embedding); `steps` changes nothing but the kept floats.
    public static func layout(_ specs: [LayerSpec], vocabulary: Int, steps: Int = 1) throws(FolioError) -> SequentialLayout {
        guard case .embedding = specs.first else {
            throw FolioError("layer 0: a model over token ids starts with an Embedding")
        }
        var layers: [LayerFacts] = []
        var shape = LayerShape.tokenIDs(steps: steps)
        for (index, spec) in specs.enumerated() {
            let describe = "layer \(index) (\(spec.name)) on input shape \(shape.dimensionNames)"
            // Specs can come from outside (a model bundle's JSON): a size below 1 or a rate
            // outside [0, 1) would size the parameter arena wrongly (found by fuzzing: a
            // negative Dense width wrote past the arena). Each kind's facts check its own.
            var facts: LayerFacts
            do throws(FolioError) { facts = try spec.facts(input: shape, prefix: "layers.\(index)", vocabulary: vocabulary) } catch {
                throw FolioError("\(describe): \(error.message)")
            }
            // (With dropout on its input only prediction builds the table; it is counted all the same.)
            if index == 1, case .lstm(let units, _, _, _) = spec, let steps = shape.steps {
                facts.forwardExtraFloats = LSTM.distinctTableFloats(steps: steps, units: units)
            }
            for parameter in facts.parameters {
                guard elementCount(of: parameter.shape, smallestDimension: 1, atMost: Self.maxParametersPerTensor) != nil else {
                    throw FolioError("\(describe): parameter \(parameter.name) of shape \(parameter.shape) is empty or beyond \(Self.maxParametersPerTensor) values")
                }
            }
            layers.append(facts)
            shape = facts.output
        }
        guard shape.steps == nil else {
            throw FolioError("the last layer's output is \(shape.dimensionNames): add a pooling or a non-sequence recurrent layer before the classifier")
        }
        return SequentialLayout(input: .tokenIDs(steps: steps), layers: layers)
    }

    /// - Parameters:
    ///   - trainable: false for a model that only predicts: no room for gradients.
    ///   - initializes: false when every weight will be loaded next (a saved model): the
    ///     random initialization would only be overwritten.
    public convenience init(
        _ specs: [LayerSpec], vocabulary: Int, seed: UInt64, trainable: Bool = true, initializes: Bool = true
    ) throws(FolioError) {
        let layout = try Self.layout(specs, vocabulary: vocabulary)
        self.init(specs, vocabulary: vocabulary, seed: seed, layout: layout,
                  arena: ParameterArena(layout: layout.parameters, gradients: trainable), initializes: initializes, projectsEmbedding: !trainable)
    }

    /// A second model over this one's parameters, for predicting on another thread: the
    /// layers (and their forward caches) are its own, the weights shared and only read.
    /// Neither may train while the other is in use.
    public func sharingWeights() -> Sequential {
        let copy = Sequential(specs, vocabulary: vocabulary, seed: seed, layout: layout, arena: arena, initializes: false,
                              sharing: projectedEmbedding)
        copy.threads = threads
        copy.kernels = kernels
        return copy
    }

    /// The ids the first layer takes.
    public let vocabulary: Int

    /// The facts the layers were built from.
    private let layout: SequentialLayout

    /// - Parameter projectsEmbedding: whether a ``ProjectedEmbedding`` may serve prediction
    ///   (the weights no longer change once it predicts); `sharing` hands a copy its original's.
    private init(
        _ specs: [LayerSpec], vocabulary: Int, seed: UInt64, layout: SequentialLayout, arena: ParameterArena, initializes: Bool,
        projectsEmbedding: Bool = false, sharing: ProjectedEmbedding? = nil
    ) {
        self.arena = arena
        self.specs = specs
        self.layout = layout
        shapes = layout.shapes
        self.seed = seed
        self.vocabulary = vocabulary
        let layers = layout.layers.enumerated().map { index, facts in
            var building = LayerBuilding(arena: arena, initializes: initializes, seed: seed, index: index,
                                         random: SplitMixSource(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)))
            return facts.build(&building)
        }
        self.layers = layers
        // A copy finds its own layers reading the table it shares.
        let reading = Self.embeddingReader(layers)
        let table = sharing ?? reading.flatMap { embedding, reader, _ in
            projectsEmbedding ? ProjectedEmbedding(rows: embedding.inputDim, width: 4 * reader.lstms[0].units, readers: reader.lstms.count) : nil
        }
        projection = table.flatMap { table in reading.map { (table, $0.0, $0.1, $0.2) } }
    }

    /// The layer that combines a batch's per-id weights (``TokenBatch/weights``): the first
    /// global average pooling (mean or sqrtn), when only layers that keep each step to itself
    /// (embedding, dense, activation, dropout) come before it; nil when weights cannot be used,
    /// because a convolution, pooling or recurrent layer mixes the steps first, or a global max
    /// pooling has no weights to combine.
    public static func weightedPoolingIndex(_ specs: [LayerSpec]) -> Int? {
        for (index, spec) in specs.enumerated() {
            switch spec {
            case .embedding, .dense, .activation, .dropout: continue
            case .globalAveragePooling1D, .globalSqrtNPooling1D: return index
            default: return nil
            }
        }
        return nil
    }

    /// ``weightedPoolingIndex(_:)``'s rule, as errors state it.
    public static let weightedPoolingRule = "a global average pooling with only embedding, dense, activation or dropout layers before it"

    /// An embedding followed by a global pooling with only dropouts between (which do
    /// nothing outside training): prediction pools table rows directly
    /// (``GlobalPooling1D/forward(table:features:ids:rows:steps:lengths:weights:)``), and the
    /// layers go on at the index returned.
    private func embeddingBag() -> (Embedding, GlobalPooling1D, Int)? {
        guard let embedding = layers.first as? Embedding else { return nil }
        for (index, layer) in layers.enumerated().dropFirst() {
            if layer is Dropout { continue }
            if let pool = layer as? GlobalPooling1D { return (embedding, pool, index + 1) }
            return nil
        }
        return nil
    }

    /// An embedding read by an LSTM or a bidirectional LSTM (``EmbeddingReader``) with only
    /// dropouts between, which do nothing outside training: prediction may take the input
    /// projections from a ``ProjectedEmbedding``, and the layers go on at the index returned.
    private static func embeddingReader(_ layers: [any SequentialLayer]) -> (Embedding, EmbeddingReader, Int)? {
        guard let embedding = layers.first as? Embedding else { return nil }
        for (index, layer) in layers.enumerated().dropFirst() {
            if layer is Dropout { continue }
            return EmbeddingReader(layer).map { (embedding, $0, index + 1) }
        }
        return nil
    }

    /// The model's output `[rows, features]` (logits for the losses' `fromLogits`).
    public func forward(_ batch: TokenBatch, training: Bool) throws(FolioError) -> Tensor {
        if let weights = batch.weights {
            guard let pooling = Self.weightedPoolingIndex(specs) else {
                throw FolioError("per-id weights need \(Self.weightedPoolingRule)")
            }
            guard weights.count == batch.rows * batch.length else {
                throw FolioError("\(weights.count) per-id weights for a batch of \(batch.rows) x \(batch.length) ids (layer \(pooling))")
            }
        }
        var pass = ForwardPass(batch: batch, arena: arena, training: training, lengths: batch.lengths)
        var x = Tensor(zeros: [0])
        var start = 0
        fusedBag = nil
        // The fused bag reads one row per position; extra ids per position take the layers'
        // path. Training fuses only a summing pooling right after the embedding (a dropout
        // between acts in training; max pooling's gradient picks single steps).
        if batch.extraIDs == nil, let (embedding, pool, next) = embeddingBag(), !training || poolsTableInTraining {
            try embedding.check(batch)
            x = try pool.forward(table: UnsafePointer(arena.values(of: embedding.table).baseAddress!), features: embedding.outputDim,
                                 ids: batch.ids, rows: batch.rows, steps: batch.length, lengths: pass.lengths, weights: batch.weights,
                                 keepsForBackward: training, shard: training ? rowShard : nil)
            start = next
            if training { fusedBag = (embedding, pool, next) }
        } else if training, let rowShard {
            throw FolioError("rank \(rowShard.communicator.rank): the embedding's rows are dealt between the ranks, but this batch "
                             + "cannot be pooled straight from the table (it carries subword ids)")
        }
        if !training, batch.extraIDs == nil, let (projected, embedding, reader, next) = projection,
           let tables = try projected.tables(for: batch, embedding: embedding, readBy: reader.lstms, arena: arena) {
            x = reader.forward(batch, tables: tables, lengths: pass.lengths, arena: arena)
            start = next
        }
        // What the layer right after the Embedding (layer 0 of every model) reads is the
        // embedding of these ids, position by position, unless subword rows were mixed in.
        let embeddedIDs = start == 0 && batch.extraIDs == nil ? batch.ids : nil
        for (index, layer) in layers.enumerated() where index >= start {
            pass.embeddedIDs = index == 1 ? embeddedIDs : nil
            if training { layer.restartMasks(seed: seed &+ 0xA5A5 &* (step &+ 1) &+ 0x9E37_79B9 &* UInt64(index + 1)) }
            x = try layer.forward(x, &pass)
        }
        return x
    }

    /// Adds every parameter's gradient, given the gradient of the output.
    public func backward(_ outputGradient: Tensor) {
        let g = backwardAboveBag(outputGradient)
        if let (embedding, pool, _) = fusedBag { embedding.addGradient(pooledBy: pool, g, arena: arena) }
    }

    /// The layers' backward down to the fused bag's pooling (all of them without one):
    /// their parameters' gradients added, the pooled output's gradient returned.
    private func backwardAboveBag(_ outputGradient: Tensor) -> Tensor {
        precondition(arena.hasGradients, "backward through a model built with trainable: false")
        var g = outputGradient
        for (index, layer) in layers.enumerated().reversed() where index >= fusedBag?.next ?? 0 { g = layer.backward(g, arena: arena) }
        return g
    }

    /// Forward, loss, backward for one micro-batch; the accumulator decides when to step.
    @discardableResult
    public func trainStep(
        _ batch: TokenBatch, labels: [UInt32], loss: Loss = .sparseCategoricalCrossentropy, optimizer: any Optimizer,
        accumulator: GradientAccumulator, rowWeights: [Float]? = nil
    ) throws(FolioError) -> (loss: Double, output: Tensor) {
        let output = try forward(batch, training: true)
        let (value, gradient) = try loss.evaluate(output, labels: labels, rowWeights: rowWeights)
        if let (embedding, pool, _) = fusedBag, updatesTableInBackward, embedding.trainable, let sgd = optimizer as? SGD, sgd.isPlain,
           accumulator.beforeStep == nil, arena.rowSparseRegions.contains(where: { $0.offset == embedding.table.offset }) {
            if accumulator.pending == 0 { pendingTableUpdates.removeAll() }
            let pooled = backwardAboveBag(gradient)
            // The check the optimizer makes of every gradient before it updates anything: the
            // table's are products of these, the documents' weights and their divisors.
            guard pooled.values.allSatisfy(\.isFinite) else {
                throw FolioError("gradient of \(embedding.table.name) is not finite (NaN or infinity): stopping before the update")
            }
            pendingTableUpdates.append((pool.tablePass, pooled))
            let rate = sgd.nextLearningRate / Float(accumulator.steps)
            if try accumulator.microBatchDone(arena: arena, optimizer: optimizer) {
                for (pass, gradient) in pendingTableUpdates { embedding.update(pass, gradient, rate: rate, arena: arena) }
                pendingTableUpdates.removeAll()
            }
            return (value, output)
        }
        backward(gradient)
        try accumulator.microBatchDone(arena: arena, optimizer: optimizer)
        return (value, output)
    }

    /// Makes the embedding table's updates lazy (row-sparse): Adam, AdamW and SGD then update only the rows
    /// a step's tokens touched (``ParameterArena/makeRowSparse(_:rowWidth:)``). A large table
    /// (hashed n-grams) otherwise costs a full pass per step.
    public func makeEmbeddingsRowSparse() {
        arena.makeRowSparse(embedding.table, rowWidth: embedding.outputDim)
    }

    /// The first layer: every model over token ids starts with its Embedding.
    public var embedding: Embedding {
        guard let embedding = layers.first as? Embedding else { preconditionFailure("layout() accepts no model without an Embedding first") }
        return embedding
    }

    /// Keeps the embedding table as it is while the rest trains (pretrained vectors used
    /// as they are): no gradient is computed for it and no optimizer updates it.
    public func freezeEmbedding() {
        embedding.trainable = false
        arena.freeze(embedding.table, rowWidth: embedding.outputDim)
    }

    /// The BatchNormalization layers by index (their state lives beside the arena).
    func movingStatistics() -> [(Int, BatchNormalization)] {
        layers.enumerated().compactMap { index, layer in (layer as? BatchNormalization).map { (index, $0) } }
    }
}

/// A model's layers as their kinds state them (``Sequential/layout(_:vocabulary:steps:)``).
public struct SequentialLayout {
    /// The token ids the model reads.
    public var input: LayerShape
    public var layers: [LayerFacts]

    /// Every parameter's name and shape, in arena order.
    public var parameters: [(name: String, shape: [Int])] { layers.flatMap(\.parameters) }
    /// Each layer's output, as ``Sequential/shapes`` lists them.
    public var shapes: [[Int]] { layers.map(\.output.dimensions) }
}
