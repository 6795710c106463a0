import FolioCore

/// A built layer as ``Sequential`` runs it: every kind answers the same three calls, so the
/// model's forward and backward passes are one loop with no list of kinds in it.
protocol SequentialLayer: AnyObject {
    /// `x` is the previous layer's output (`[rows, steps, features]` or `[rows, features]`;
    /// the first layer reads `pass.batch` instead). A layer that changes the number of valid
    /// steps (a convolution, a pooling) updates `pass.lengths`.
    func forward(_ x: Tensor, _ pass: inout ForwardPass) throws(FolioError) -> Tensor
    /// The gradient of the input, given the output's; adds the parameters' gradients.
    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor
    /// Dropout-like layers restart their mask stream: a step's masks depend on `seed` alone.
    func restartMasks(seed: UInt64)
    /// The LSTMs inside, whose threads the model sets.
    var lstms: [LSTM] { get }
    /// Layers that compute products run them on `kernels` from now on; a wrapper passes it on.
    func use(_ kernels: KernelSet)
}

extension SequentialLayer {
    func restartMasks(seed: UInt64) {}
    var lstms: [LSTM] { [] }
    func use(_ kernels: KernelSet) {}
}

/// What one forward pass carries beside the values from layer to layer.
struct ForwardPass {
    let batch: TokenBatch
    let arena: ParameterArena
    let training: Bool
    /// Valid steps per row, as the layers so far have left them.
    var lengths: [Int32]
    /// The ids whose embedding rows the layer's input is, position by position: set for the
    /// layer right after the Embedding (an LSTM then projects each distinct id once).
    var embeddedIDs: [UInt32]? = nil
}

/// A layer followed by its `activation` argument (Keras's `Dense(units, activation=...)`).
final class Activated: SequentialLayer {
    let layer: any SequentialLayer
    let activation: Activation

    init(_ layer: any SequentialLayer, _ activation: Activation) {
        self.layer = layer
        self.activation = activation
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) throws(FolioError) -> Tensor {
        activation.forward(try layer.forward(x, &pass))
    }

    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        layer.backward(activation.backward(outputGradient), arena: arena)
    }

    func use(_ kernels: KernelSet) { layer.use(kernels) }
}
