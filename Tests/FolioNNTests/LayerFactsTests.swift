import FolioCore
import FolioTestSupport
import Testing

@testable import FolioNN

@Suite struct LayerFactsTests {
    /// What each kind states is what it builds and computes: the arena holds exactly the
    /// stated parameters, and a forward pass gives the stated output width per row, step
    /// counts as the facts say (a valid convolution's fewer steps, a pooling's), and a
    /// backward pass a gradient for every parameter it stated.
    @Test(arguments: everyLayerKind) func aKindsFactsAreWhatItBuilds(spec: LayerSpec) throws {
        let specs = model(around: spec)
        let steps = 9
        let layout = try Sequential.layout(specs, vocabulary: 20, steps: steps)
        let network = try Sequential(specs, vocabulary: 20, seed: 3)
        #expect(network.arena.views.map(\.name) == layout.parameters.map(\.name))
        #expect(network.arena.views.map(\.shape) == layout.parameters.map(\.shape))
        #expect(network.shapes == layout.shapes)

        let index = specs.firstIndex(of: spec) ?? 0
        let stated = layout.layers[index].output
        // The model cut after the layer, with a pooling if it leaves steps: its output
        // width is the layer's stated features.
        var cut = Array(specs[...index])
        if stated.steps != nil { cut.append(.globalMaxPooling1D) }
        let rows = 2
        let ids = (0..<rows * steps).map { UInt32(($0 * 7 + 1) % 20) }
        let batch = TokenBatch(rows: rows, length: steps, ids: ids, lengths: [Int32(steps), Int32(steps)])
        let output = try Sequential(cut, vocabulary: 20, seed: 3).forward(batch, training: true)
        #expect(output.shape == [rows, stated.features], "\(spec)")

        let logits = try network.forward(batch, training: true)
        network.backward(Tensor(shape: logits.shape, values: [Float](repeating: 1, count: logits.count)))
        for view in network.arena.views where view.name.hasPrefix("layers.\(index).") {
            #expect(network.arena.gradients(of: view).contains { $0 != 0 }, "\(spec): \(view.name) got no gradient")
        }
    }

    /// Step counts as stated: a valid convolution drops kernel_size - 1 steps, a pooling
    /// divides them, a non-sequence recurrent layer and a global pooling remove the axis.
    @Test func stepsFollowEachKind() throws {
        let layout = try Sequential.layout([.embedding(outputDim: 4), .conv1D(filters: 3, kernelSize: 4), .maxPooling1D(poolSize: 2),
                                            .lstm(units: 2), .dense(units: 2)], vocabulary: 10, steps: 21)
        #expect(layout.layers.map(\.output.steps) == [21, 18, 9, nil, nil])
        #expect(layout.layers.map(\.output.features) == [4, 3, 3, 2, 2])
        // The LSTM keeps its input, four gates, cell and hidden per step.
        #expect(layout.layers[3].keptFloats == 9 * (3 + 6 * 2))
    }

    @Test func descriptionsUseKerasNamesAndLeaveDefaultsOut() {
        #expect(LayerSpec.activation(.relu).description == "Activation(relu)")
        #expect(LayerSpec.bidirectional(.lstm(units: 4)).description == "Bidirectional(LSTM(units=4))")
        #expect(LayerSpec.globalSqrtNPooling1D.description == "GlobalAveragePooling1D(combiner=sqrtn)")
        #expect(LayerSpec.conv1D(filters: 2, kernelSize: 3, padding: .same).description == "Conv1D(filters=2, kernel_size=3, padding=same)")
        #expect(LayerSpec.batchNormalization().description == "BatchNormalization")
    }
}
