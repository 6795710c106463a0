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
    /// same outputs bit for bit, on every kernel path, in training and in prediction, with
    /// padded rows. Backward sums each id's gradients before the input kernel's products: the
    /// recurrent kernel's gradient keeps its bits, the input kernel's, the bias's (the sum of
    /// the per-id sums) and the per-id input gradients (what the Embedding adds into its rows) agree to rounding,
    /// and positions after an id's first get nothing (their share went to the first).
    @Test(arguments: KernelSet.available, [true, false])
    func projectingEachDistinctIDOnceChangesNoOutputBit(kernels: KernelSet, returnSequences: Bool) throws {
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
        func run(_ embeddedIDs: [UInt32]?, training: Bool, threads: Int = 2)
            -> (output: [Float], inputGradient: [Float], gradients: [Float])
        {
            let arena = ParameterArena(layout: LSTM.layout(prefix: "l", inputDim: inputs, units: units))
            let lstm = LSTM(inputDim: inputs, units: units, returnSequences: returnSequences, arena: arena, prefix: "l")
            lstm.kernels = kernels
            lstm.threads = threads
            var stream = SplitMixSource(seed: 5)
            lstm.initialize(arena: arena, random: &stream)
            let output = lstm.forward(input, lengths: lengths, arena: arena, training: training, keepsCaches: training, embeddedIDs: embeddedIDs)
            guard training else { return (output.values, [], []) }
            let inputGradient = lstm.backward(Tensor(shape: output.shape, values: upstream), arena: arena)
            return (output.values, inputGradient.values, Array(arena.gradients))
        }
        /// What an Embedding adds into each id's row: the sum of its positions' gradients.
        func perID(_ gradient: [Float]) -> [Double] {
            var sums = [Double](repeating: 0, count: vocabulary * inputs)
            for (position, id) in ids.enumerated() {
                for j in 0..<inputs { sums[Int(id) * inputs + j] += Double(gradient[position * inputs + j]) }
            }
            return sums
        }
        let distinctIDs = try #require(DistinctIDs(ids, atMost: ids.count / 2), "the test's ids must take the distinct path")
        let plainPrediction = run(nil, training: false), distinctPrediction = run(ids, training: false)
        #expect(plainPrediction.output == distinctPrediction.output, "prediction")
        let plain = run(nil, training: true), distinct = run(ids, training: true)
        #expect(plain.output == distinct.output, "training outputs")
        let (kernelCount, recurrentEnd) = (inputs * 4 * units, (inputs + units) * 4 * units)
        #expect(plain.gradients[kernelCount..<recurrentEnd] == distinct.gradients[kernelCount..<recurrentEnd], "recurrent kernel")
        #expect(plain.gradients[..<kernelCount] != distinct.gradients[..<kernelCount], "the kernel's sums are ordered otherwise")
        for (index, (a, b)) in zip(plain.gradients, distinct.gradients).enumerated() {
            #expect(abs(a - b) <= 1e-5 * max(1, abs(a)), "input kernel and bias gradients, \(index)")
        }
        for (a, b) in zip(perID(plain.inputGradient), perID(distinct.inputGradient)) {
            #expect(abs(a - b) <= 1e-5 * max(1, abs(a)), "per-id input gradient")
        }
        let firsts = Set(distinctIDs.firstPositions)
        for position in ids.indices where !firsts.contains(position) {
            #expect(distinct.inputGradient[position * inputs..<(position + 1) * inputs].allSatisfy { $0 == 0 }, "position \(position)")
        }
        let oneThread = run(ids, training: true, threads: 1)
        #expect(oneThread.gradients == distinct.gradients && oneThread.inputGradient == distinct.inputGradient, "1 and 2 threads")
    }
}
