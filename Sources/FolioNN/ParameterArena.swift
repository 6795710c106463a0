/// All parameters of a model in one allocation, gradients in a second of the same layout
/// (llm.c's layout): optimizers and checkpoints walk two flat arrays, and layers hold
/// ``ParameterView``s into them.
public final class ParameterArena {
    public private(set) var values: UnsafeMutableBufferPointer<Float>
    public private(set) var gradients: UnsafeMutableBufferPointer<Float>
    public private(set) var views: [ParameterView] = []

    public init(layout: [(name: String, shape: [Int])]) {
        var offset = 0
        for (name, shape) in layout {
            let count = shape.reduce(1, *)
            views.append(ParameterView(name: name, shape: shape, offset: offset, count: count))
            offset += count
        }
        values = .allocate(capacity: max(offset, 1))
        values.initialize(repeating: 0)
        gradients = .allocate(capacity: max(offset, 1))
        gradients.initialize(repeating: 0)
    }

    deinit {
        values.deallocate()
        gradients.deallocate()
    }

    public var count: Int { views.last.map { $0.offset + $0.count } ?? 0 }

    public func view(_ name: String) -> ParameterView? { views.first { $0.name == name } }

    public func zeroGradients() {
        gradients.update(repeating: 0)
    }

    /// A parameter's values.
    public func values(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: values[view.offset..<view.offset + view.count])
    }

    /// A parameter's gradients.
    public func gradients(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: gradients[view.offset..<view.offset + view.count])
    }
}

/// One parameter's place in a ``ParameterArena``. Names follow PyTorch's where a
/// counterpart exists (`lstm.weight_ih_l0`), so that checkpoints load there.
public struct ParameterView: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
}
