/// Labels that ``LabelEncoder`` can sort: strings by Unicode code points (as Python
/// sorts them, not by Swift's canonical-equivalence order), integers by value.
public protocol EncodableLabel: Hashable, Codable, Sendable, CustomStringConvertible {
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

extension String: EncodableLabel {
    public static func precedes(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}

extension Int: EncodableLabel {
    public static func precedes(_ a: Int, _ b: Int) -> Bool { a < b }
}

/// Maps labels to 0 ..< classes.count, classes sorted, as scikit-learn's `LabelEncoder`.
/// A label not seen in fit is an error that names it.
///
/// ```swift
/// var encoder = LabelEncoder<String>()
/// try encoder.fit(["spam", "ham", "spam"])
/// try encoder.transform(["spam", "ham"])      // [1, 0]
/// try encoder.inverseTransform([0])            // ["ham"]
/// ```
public struct LabelEncoder<Label: EncodableLabel>: InvertibleStage {
    public private(set) var classes: [Label] = []
    private var seen: Set<Label> = []

    public init() {}

    static var stage: String { "LabelEncoder" }

    public mutating func reset() {
        classes = []
        seen = []
    }

    public mutating func partialFit(_ batch: [Label]) throws(PreprocessingError) {
        let before = seen.count
        seen.formUnion(batch)
        if seen.count != before { classes = seen.sorted(by: Label.precedes) }
    }

    public func transform(_ input: [Label]) throws(PreprocessingError) -> [Int] {
        guard !classes.isEmpty else { throw .notFitted(stage: Self.stage) }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var output: [Int] = []
        output.reserveCapacity(input.count)
        for label in input {
            guard let id = index[label] else {
                throw .unknownCategory(stage: Self.stage, column: 0, value: label.description)
            }
            output.append(id)
        }
        return output
    }

    public func inverseTransform(_ output: [Int]) throws(PreprocessingError) -> [Label] {
        guard !classes.isEmpty else { throw .notFitted(stage: Self.stage) }
        return try output.map { (id: Int) throws(PreprocessingError) -> Label in
            guard id >= 0 && id < classes.count else {
                throw .invalidArgument(stage: Self.stage, message: "class index \(id) outside 0..<\(classes.count)")
            }
            return classes[id]
        }
    }
}
