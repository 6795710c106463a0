import FolioCore

/// What flows between two layers, per row (without the batch).
public struct LayerShape: Hashable, Sendable {
    /// Steps along the sequence, nil when there is no step axis. The count is the longest
    /// sequence's where memory is asked about; no parameter or output width depends on it.
    public var steps: Int?
    /// Features per step; 0 for the token ids a model starts from.
    public var features: Int

    /// The token ids a model reads: `[steps]`.
    public static func tokenIDs(steps: Int) -> LayerShape { LayerShape(steps: steps, features: 0) }

    /// Floats per row (ids count as one each).
    public var floats: Int { (steps ?? 1) * max(features, 1) }

    /// As ``Sequential/shapes`` lists it: `[-1, features]`, `[features]`, `[-1]` for ids.
    public var dimensions: [Int] { steps == nil ? [features] : features == 0 ? [-1] : [-1, features] }

    /// As errors show it: `["steps", "64"]`.
    var dimensionNames: [String] { dimensions.map { $0 < 0 ? "steps" : String($0) } }

    /// `self` with `features`, keeping the step axis.
    func with(features: Int) -> LayerShape { LayerShape(steps: steps, features: features) }

    /// The steps, or the error a layer that reads sequences gives for an input without them.
    func requireSteps() throws(FolioError) -> Int {
        guard let steps, features > 0 else { throw FolioError("needs [steps, features]") }
        return steps
    }
}

/// What a layer kind states about itself for a given input: its parameters, its output,
/// and the floats its forward pass keeps for backward. ``Sequential`` builds the model from
/// these and the memory planner counts them, so neither has a list of layer kinds. Each
/// layer's file writes its own (`Dense.facts(units:activation:input:prefix:)`), and
/// ``LayerSpec/facts(input:prefix:)`` dispatches to it.
public struct LayerFacts {
    /// Its parameters, named under the layer's prefix (`layers.3.kernel`).
    public var parameters: [(name: String, shape: [Int])] = []
    public var output: LayerShape
    /// Floats per row that forward keeps for backward.
    public var keptFloats: Int
    /// Backward releases the layer's caches as it goes (the recurrent layers).
    public var releasedByBackward = false
    /// The layer keeps its input itself (shared storage, not a copy): forward through it
    /// holds the input once, in ``keptFloats``.
    public var keepsInput = false
    /// Gradients per row beyond the output's and the input's in backward: a convolution's
    /// unfolded windows, a fused activation's own.
    public var backwardExtraFloats = 0
    /// Floats per row that forward holds only while it runs: an LSTM right after the
    /// Embedding, its batch's table of distinct ids' projections (``DistinctIDs``).
    public var forwardExtraFloats = 0
    /// Builds the layer over the arena the parameters above were laid out in.
    var build: (inout LayerBuilding) -> any SequentialLayer

    init(parameters: [(name: String, shape: [Int])] = [], output: LayerShape, keptFloats: Int,
         build: @escaping (inout LayerBuilding) -> any SequentialLayer) {
        self.parameters = parameters
        self.output = output
        self.keptFloats = keptFloats
        self.build = build
    }

    /// These facts with a fused activation after the layer (`Dense(..., activation="relu")`):
    /// it keeps its input and output, and its backward holds one more gradient of the output.
    /// A linear activation is the identity and is left out.
    func activated(by function: Activation.Function) -> LayerFacts {
        guard function != .linear else { return self }
        var facts = self
        facts.keptFloats += 2 * output.floats
        facts.backwardExtraFloats += output.floats
        let build = self.build
        facts.build = { building in Activated(build(&building), Activation(function)) }
        return facts
    }
}

/// What building a layer needs: the arena, the layer's own seeded stream, and whether the
/// weights are initialized (not when saved ones will be loaded next).
struct LayerBuilding {
    let arena: ParameterArena
    let initializes: Bool
    /// The model's seed and the layer's index (a dropout's masks are named by both).
    let seed: UInt64
    let index: Int
    var random: SplitMixSource

    /// Initializes `layer` from this layer's stream unless the weights will be loaded.
    mutating func initialize(_ initialize: (ParameterArena, inout SplitMixSource) -> Void) {
        if initializes { initialize(arena, &random) }
    }
}
