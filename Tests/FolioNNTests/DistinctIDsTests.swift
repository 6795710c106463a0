import FolioCore
@testable import FolioNN
import Testing

@Suite struct DistinctIDsTests {
    @Test func numbersIDsInOrderOfFirstAppearance() throws {
        let distinct = try #require(DistinctIDs([7, 3, 7, 0, 3, 9], atMost: 6))
        #expect(distinct.slots == [0, 1, 0, 2, 1, 3])
        #expect(distinct.firstPositions == [0, 1, 3, 5])
        #expect(DistinctIDs([1, 2, 3, 1], atMost: 2) == nil, "three distinct ids, two allowed")
        #expect(DistinctIDs([1, 4_000_000], atMost: 2) == nil, "a map of 16 MB for a batch of two")
        #expect(DistinctIDs([1, 70_000], atMost: 2) == nil && DistinctIDs([1, 65_535], atMost: 2) != nil,
                "the map's floor is 65,536 entries, and 2 x 8 ids are fewer")
        #expect(DistinctIDs([UInt32](repeating: 70_000, count: 10_000), atMost: 1) != nil, "10,000 ids x 8 reach 70,000")
    }

    /// The memory model counts the table where an LSTM reads the Embedding straight (with
    /// dropout on its input, prediction still builds it), and nowhere else.
    @Test func theLayoutCountsTheTableWhereItCanBeBuilt() throws {
        let steps = 10
        let straight = try Sequential.layout([.embedding(outputDim: 6), .lstm(units: 8, returnSequences: true), .lstm(units: 8)],
                                             vocabulary: 20, steps: steps)
        #expect(straight.layers.map(\.forwardExtraFloats) == [0, 5 * 4 * 8 + 9 * steps, 0])
        let masked = try Sequential.layout([.embedding(outputDim: 6), .lstm(units: 8, dropout: 0.5)], vocabulary: 20, steps: steps)
        #expect(masked.layers.map(\.forwardExtraFloats) == [0, 5 * 4 * 8 + 9 * steps])
        let behindDropout = try Sequential.layout([.embedding(outputDim: 6), .dropout(rate: 0.5), .lstm(units: 8)], vocabulary: 20, steps: steps)
        #expect(behindDropout.layers.map(\.forwardExtraFloats) == [0, 0, 0])
    }

    /// An LSTM told which ids its input embeds projects each distinct id once and gives the
    /// same outputs and, after backward, the same gradients bit for bit, on every kernel
    /// path, in training and in prediction, with padded rows.
    @Test(arguments: KernelSet.available, [true, false])
    func projectingEachDistinctIDOnceChangesNoBit(kernels: KernelSet, returnSequences: Bool) throws {
        let (batch, steps, inputs, units, vocabulary) = (5, 9, 12, 11, 7)
        var random = SplitMix64(seed: 23)
        let table = (0..<vocabulary * inputs).map { _ in Float(random.nextUnit() * 2 - 1) }
        let ids = (0..<batch * steps).map { _ in UInt32(random.next() % UInt64(vocabulary)) }
        let lengths: [Int32] = [9, 4, 0, 9, 1]
        var values = [Float](repeating: 0, count: batch * steps * inputs)
        for (position, id) in ids.enumerated() {
            for j in 0..<inputs { values[position * inputs + j] = table[Int(id) * inputs + j] }
        }
        let input = Tensor(shape: [batch, steps, inputs], values: values)
        let upstream = (0..<(returnSequences ? batch * steps * units : batch * units)).map { _ in Float(random.nextUnit() - 0.5) }
        func run(_ embeddedIDs: [UInt32]?, training: Bool) -> (output: [Float], inputGradient: [Float], gradients: [Float]) {
            let arena = ParameterArena(layout: LSTM.layout(prefix: "l", inputDim: inputs, units: units))
            let lstm = LSTM(inputDim: inputs, units: units, returnSequences: returnSequences, arena: arena, prefix: "l")
            lstm.kernels = kernels
            var stream = SplitMixSource(seed: 5)
            lstm.initialize(arena: arena, random: &stream)
            let output = lstm.forward(input, lengths: lengths, arena: arena, training: training, keepsCaches: training, embeddedIDs: embeddedIDs)
            guard training else { return (output.values, [], []) }
            let inputGradient = lstm.backward(Tensor(shape: output.shape, values: upstream), arena: arena)
            return (output.values, inputGradient.values, Array(arena.gradients))
        }
        #expect(DistinctIDs(ids, atMost: ids.count / 2) != nil, "the test's ids must take the distinct path")
        for training in [true, false] {
            let (plain, distinct) = (run(nil, training: training), run(ids, training: training))
            #expect(plain.output == distinct.output, "outputs, training \(training)")
            #expect(plain.inputGradient == distinct.inputGradient && plain.gradients == distinct.gradients, "gradients")
        }
    }
}
