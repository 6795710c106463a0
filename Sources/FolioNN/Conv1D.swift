import FolioCore

/// One-dimensional convolution over `[batch, steps, channels]`, Keras's `Conv1D` with
/// stride 1: kernel `[kernelSize, channels, filters]`, bias `[filters]`, padding `valid`
/// (`steps - kernelSize + 1` outputs) or `same` (`steps` outputs; `(kernelSize - 1) / 2`
/// zeros before, the rest after, as TensorFlow and PyTorch pad).
///
/// Each output step's window is laid out as one row (im2col), so the whole layer is one
/// product `[batch * outSteps, kernelSize * channels] x [kernelSize * channels, filters]`
/// (``AffineProduct``: Folio's kernels, so the sums' order is the same on every machine).
/// Not mask-aware: use ``outputLengths(_:)`` to carry lengths to a masked pooling after it.
public final class Conv1D {
    public enum Padding: String, Sendable, Codable { case valid, same }
    public let channels: Int
    public let filters: Int
    public let kernelSize: Int
    public let padding: Padding
    public let kernel: ParameterView
    public let bias: ParameterView
    /// The kernels its products run on (``KernelSet/selected`` unless set).
    public var kernels = KernelSet.selected
    private var columns: [Float] = []
    private var shape: [Int] = []

    public static func layout(prefix: String, channels: Int, filters: Int, kernelSize: Int) -> [(name: String, shape: [Int])] {
        [(prefix + ".kernel", [kernelSize, channels, filters]), (prefix + ".bias", [filters])]
    }

    public init(channels: Int, filters: Int, kernelSize: Int, padding: Padding = .valid, arena: ParameterArena, prefix: String) {
        self.channels = channels
        self.filters = filters
        self.kernelSize = kernelSize
        self.padding = padding
        kernel = arena.view(prefix + ".kernel")!
        bias = arena.view(prefix + ".bias")!
    }

    public func initialize(arena: ParameterArena, random: inout SplitMixSource) {
        let limit = Float((6.0 / Double(kernelSize * channels + kernelSize * filters)).squareRoot())
        let values = arena.values(of: kernel)
        for index in values.indices { values[index] = (Float(random.unit()) * 2 - 1) * limit }
    }

    var padBefore: Int { padding == .same ? (kernelSize - 1) / 2 : 0 }

    /// Calls `body(column, input)` for every im2col cell that reads an input value: the
    /// column matrix index and the input index it holds (padding cells are skipped).
    @inline(__always)
    private func forEachWindowCell(batch: Int, steps: Int, _ body: (Int, Int) -> Void) {
        let out = outputSteps(steps)
        let width = kernelSize * channels
        for b in 0..<batch {
            for t in 0..<out {
                for k in 0..<kernelSize {
                    let source = t + k - padBefore
                    guard source >= 0 && source < steps else { continue }
                    for c in 0..<channels { body((b * out + t) * width + k * channels + c, (b * steps + source) * channels + c) }
                }
            }
        }
    }

    func outputSteps(_ steps: Int) -> Int { padding == .same ? steps : max(0, steps - kernelSize + 1) }

    /// Valid output steps per row for input lengths (for pooling after the layer).
    public func outputLengths(_ lengths: [Int32]) -> [Int32] {
        lengths.map { padding == .same ? $0 : Int32(max(0, Int($0) - kernelSize + 1)) }
    }

    public func forward(_ input: Tensor, arena: ParameterArena) -> Tensor {
        shape = input.shape
        let (batch, steps) = (input.shape[0], input.shape[1])
        let out = outputSteps(steps)
        let width = kernelSize * channels
        columns = [Float](repeating: 0, count: batch * out * width)
        forEachWindowCell(batch: batch, steps: steps) { column, source in columns[column] = input.values[source] }
        var output = Tensor(uninitialized: [batch, out, filters])  // the product writes every element
        columns.withUnsafeBufferPointer { x in
            output.values.withUnsafeMutableBufferPointer { y in
                AffineProduct.forward(rows: batch * out, inputDim: width, units: filters, x.baseAddress!,
                                      kernel: arena.values(of: kernel).baseAddress!, bias: arena.values(of: bias).baseAddress!,
                                      into: y.baseAddress!, kernels: kernels)
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        let (batch, steps) = (shape[0], shape[1])
        let out = outputSteps(steps)
        let width = kernelSize * channels
        var columnGradient = uninitializedFloats(batch * out * width)  // dx = dy W^T below writes every element
        columns.withUnsafeBufferPointer { x in
            outputGradient.values.withUnsafeBufferPointer { dy in
                columnGradient.withUnsafeMutableBufferPointer { dx in
                    AffineProduct.backward(rows: batch * out, inputDim: width, units: filters, x.baseAddress!, dy: dy.baseAddress!,
                                           kernel: arena.values(of: kernel).baseAddress!,
                                           kernelGradient: arena.gradients(of: kernel).baseAddress!, dx: dx.baseAddress!, kernels: kernels)
                }
            }
        }
        let biasGradient = arena.gradients(of: bias)
        for row in 0..<batch * out { for f in 0..<filters { biasGradient[f] += outputGradient.values[row * filters + f] } }
        // col2im: every window position adds back into the step it came from.
        var inputGradient = Tensor(zeros: shape)
        forEachWindowCell(batch: batch, steps: steps) { column, source in inputGradient.values[source] += columnGradient[column] }
        return inputGradient
    }
}

/// Max over windows of `poolSize` steps, stride `poolSize` (Keras's defaults, `valid`).
public final class MaxPooling1D {
    public let poolSize: Int
    private var shape: [Int] = []
    private var chosen: [Int] = []

    public init(poolSize: Int = 2) { self.poolSize = poolSize }

    public func forward(_ input: Tensor) -> Tensor {
        shape = input.shape
        let (batch, steps, channels) = (input.shape[0], input.shape[1], input.shape[2])
        let out = steps / poolSize
        var output = Tensor(zeros: [batch, out, channels])
        chosen = [Int](repeating: 0, count: batch * out * channels)
        for b in 0..<batch {
            for t in 0..<out {
                for c in 0..<channels {
                    var best = (b * steps + t * poolSize) * channels + c
                    for k in 1..<poolSize where input.values[(b * steps + t * poolSize + k) * channels + c] > input.values[best] {
                        best = (b * steps + t * poolSize + k) * channels + c
                    }
                    chosen[(b * out + t) * channels + c] = best
                    output.values[(b * out + t) * channels + c] = input.values[best]
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var inputGradient = Tensor(zeros: shape)
        for (index, source) in chosen.enumerated() { inputGradient.values[source] += outputGradient.values[index] }
        return inputGradient
    }

    public func outputLengths(_ lengths: [Int32]) -> [Int32] { lengths.map { $0 / Int32(poolSize) } }
}

extension Conv1D: SequentialLayer {
    /// `[steps, channels]` to `[steps', filters]` (`steps - kernelSize + 1` when valid);
    /// keeps the unfolded windows, and its backward their gradient.
    static func facts(filters: Int, kernelSize: Int, padding: Padding, input: LayerShape, prefix: String) throws(FolioError) -> LayerFacts {
        guard filters >= 1 && kernelSize >= 1 else { throw FolioError("filters \(filters) and kernel_size \(kernelSize) must be at least 1") }
        let steps = try input.requireSteps()
        let channels = input.features
        let outputSteps = padding == .valid ? max(0, steps - kernelSize + 1) : steps
        var facts = LayerFacts(parameters: layout(prefix: prefix, channels: channels, filters: filters, kernelSize: kernelSize),
                               output: LayerShape(steps: outputSteps, features: filters),
                               keptFloats: outputSteps * kernelSize * channels) { building in
            let layer = Conv1D(channels: channels, filters: filters, kernelSize: kernelSize, padding: padding, arena: building.arena, prefix: prefix)
            building.initialize(layer.initialize)
            return layer
        }
        facts.backwardExtraFloats = facts.keptFloats
        return facts
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor {
        pass.lengths = outputLengths(pass.lengths)
        return forward(x, arena: pass.arena)
    }

    func use(_ kernels: KernelSet) { self.kernels = kernels }
}

extension MaxPooling1D: SequentialLayer {
    /// `[steps, features]` to `[steps / poolSize, features]`; keeps the chosen steps.
    static func facts(poolSize: Int, input: LayerShape) throws(FolioError) -> LayerFacts {
        try LayerFacts.atLeastOne(poolSize, "pool_size")
        let steps = try input.requireSteps() / poolSize
        return LayerFacts(output: LayerShape(steps: steps, features: input.features), keptFloats: steps * input.features) { _ in
            MaxPooling1D(poolSize: poolSize)
        }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor {
        pass.lengths = outputLengths(pass.lengths)
        return forward(x)
    }

    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor { backward(outputGradient) }
}
