/// Keras's `BatchNormalization` over the last dimension: in training, each feature is
/// normalized with the batch's mean and (biased) variance, and the moving averages follow
/// `moving = moving * momentum + batch * (1 - momentum)`; at inference the moving averages
/// are used. Defaults as Keras: momentum 0.99, epsilon 1e-3, `gamma` 1 and `beta` 0.
///
/// `gamma` and `beta` are parameters in the arena; the moving statistics are state beside
/// it (not trained, so an optimizer's weight decay never touches them).
public final class BatchNormalization {
    public let features: Int
    public let momentum: Float
    public let epsilon: Float
    public let gamma: ParameterView
    public let beta: ParameterView
    public internal(set) var movingMean: [Float]
    public internal(set) var movingVariance: [Float]
    private var normalized: [Float] = []
    private var inverseDeviation: [Float] = []
    private var training = false

    public static func layout(prefix: String, features: Int) -> [(name: String, shape: [Int])] {
        [(prefix + ".gamma", [features]), (prefix + ".beta", [features])]
    }

    public init(features: Int, momentum: Float = 0.99, epsilon: Float = 1e-3, arena: ParameterArena, prefix: String) {
        self.features = features
        self.momentum = momentum
        self.epsilon = epsilon
        gamma = arena.view(prefix + ".gamma")!
        beta = arena.view(prefix + ".beta")!
        movingMean = [Float](repeating: 0, count: features)
        movingVariance = [Float](repeating: 1, count: features)
        let gammaValues = arena.values(of: gamma)
        for index in gammaValues.indices { gammaValues[index] = 1 }
    }

    public func forward(_ input: Tensor, training: Bool, arena: ParameterArena) -> Tensor {
        self.training = training
        let rows = input.count / features
        var mean = movingMean
        var variance = movingVariance
        if training {
            mean = [Float](repeating: 0, count: features)
            variance = [Float](repeating: 0, count: features)
            var sums = [Double](repeating: 0, count: features)
            for row in 0..<rows { for f in 0..<features { sums[f] += Double(input.values[row * features + f]) } }
            let means = sums.map { $0 / Double(rows) }
            var squares = [Double](repeating: 0, count: features)
            for row in 0..<rows {
                for f in 0..<features {
                    let deviation = Double(input.values[row * features + f]) - means[f]
                    squares[f] += deviation * deviation
                }
            }
            for f in 0..<features {
                mean[f] = Float(means[f])
                variance[f] = Float(squares[f] / Double(rows))
                movingMean[f] = movingMean[f] * momentum + mean[f] * (1 - momentum)
                movingVariance[f] = movingVariance[f] * momentum + variance[f] * (1 - momentum)
            }
        }
        inverseDeviation = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let (gammaValues, betaValues) = (arena.values(of: gamma), arena.values(of: beta))
        normalized = [Float](repeating: 0, count: input.count)
        var output = input
        for row in 0..<rows {
            for f in 0..<features {
                let index = row * features + f
                normalized[index] = (input.values[index] - mean[f]) * inverseDeviation[f]
                output.values[index] = normalized[index] * gammaValues[f] + betaValues[f]
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        let rows = outputGradient.count / features
        let (gammaValues, gammaGradient, betaGradient) = (arena.values(of: gamma), arena.gradients(of: gamma), arena.gradients(of: beta))
        var sumGradient = [Float](repeating: 0, count: features)
        var sumGradientNormalized = [Float](repeating: 0, count: features)
        for row in 0..<rows {
            for f in 0..<features {
                let g = outputGradient.values[row * features + f]
                sumGradient[f] += g
                sumGradientNormalized[f] += g * normalized[row * features + f]
            }
        }
        for f in 0..<features {
            betaGradient[f] += sumGradient[f]
            gammaGradient[f] += sumGradientNormalized[f]
        }
        var inputGradient = outputGradient
        let n = Float(rows)
        for row in 0..<rows {
            for f in 0..<features {
                let index = row * features + f
                let g = outputGradient.values[index] * gammaValues[f]
                inputGradient.values[index] = training
                    ? inverseDeviation[f] / n * (n * g - gammaValues[f] * sumGradient[f] - normalized[index] * gammaValues[f] * sumGradientNormalized[f])
                    : g * inverseDeviation[f]
            }
        }
        return inputGradient
    }
}

extension BatchNormalization: SequentialLayer {
    /// Any shape to the same (normalized over the last dimension); keeps the normalized
    /// input and its inverse deviation.
    static func facts(momentum: Float, epsilon: Float, input: LayerShape, prefix: String) -> LayerFacts {
        let features = input.features
        return LayerFacts(parameters: layout(prefix: prefix, features: features), output: input, keptFloats: 2 * input.floats) { building in
            BatchNormalization(features: features, momentum: momentum, epsilon: epsilon, arena: building.arena, prefix: prefix)
        }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor { forward(x, training: pass.training, arena: pass.arena) }
}
