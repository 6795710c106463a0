import Foundation

/// A chosen setting at an end of its range: the search could not look past it, so a wider
/// range (a `--space` file) might find better. `folio tune` names these in `tune.md` and on
/// its last lines, as a grid search's user checks that the best point is not on the grid's rim.
public struct TuneSpaceEdge: Sendable, Hashable {
    public var parameter: TuneSpace.Parameter
    public var value: Double
    /// The top of the range (else the bottom).
    public var isHighest: Bool

    /// "dim 128 (the highest of 32, 64, 128)", "learning_rate 0.0011 (near the lowest of 0.001-0.1)".
    public func description(in range: TuneSpace.Range) -> String {
        let end = isHighest ? "highest" : "lowest"
        let shown = parameter.shown(value)
        switch range {
        case .values(let values):
            let listed = Array(Set(values)).sorted().map { String(format: "%g", $0) }.joined(separator: ", ")
            return "\(parameter.rawValue) \(shown) (the \(end) of \(listed))"
        case .logUniform(let low, let high):
            return "\(parameter.rawValue) \(shown) (near the \(end) of \(String(format: "%g", low))-\(String(format: "%g", high)))"
        }
    }
}

extension TuneSpace.Parameter {
    /// Whether its values have an order a wider range extends: the schedule, the weighting and
    /// the character n-grams are choices between kinds, each an end of its list.
    var isOrdered: Bool { ![.schedule, .weighting, .subwords].contains(self) }

    /// `value` as `tune.md` writes it: a learning rate to three significant figures.
    func shown(_ value: Double) -> String { String(format: self == .learningRate ? "%.3g" : "%g", value) }

    /// The least value the parameter can take at all (unigrams, one layer, no dropout): a
    /// range's bottom there is no edge a wider range could move.
    var floor: Double? {
        switch self {
        case .ngrams, .recurrentLayers: 1
        case .dropout: 0
        default: nil
        }
    }
}

extension TuneSpace {
    /// The share of a log-uniform range's span (in log) at either end within which a value
    /// counts as at that end.
    static let edgeShare = 0.1

    /// `settings`' ordered parameters that sit at an end of their range: the first or last of
    /// a list of three or more values (in a list of two every value is an end, so it says
    /// nothing), or within ``edgeShare`` of a log-uniform range's ends; not the least value a
    /// parameter can take (``TuneSpace/Parameter/floor``).
    public func edges(of settings: TrialSettings) -> [TuneSpaceEdge] {
        Parameter.allCases.compactMap { parameter -> TuneSpaceEdge? in
            guard parameter.isOrdered, let range = ranges[parameter], let value = settings.values[parameter.rawValue],
                  value != parameter.floor else { return nil }
            switch range {
            case .values(let values):
                guard Set(values).count >= 3, let low = values.min(), let high = values.max() else { return nil }
                return value == high || value == low ? TuneSpaceEdge(parameter: parameter, value: value, isHighest: value == high) : nil
            case .logUniform(let low, let high):
                guard high > low, value > 0 else { return nil }
                let position = Foundation.log(value / low) / Foundation.log(high / low)
                if position >= 1 - Self.edgeShare { return TuneSpaceEdge(parameter: parameter, value: value, isHighest: true) }
                return position <= Self.edgeShare ? TuneSpaceEdge(parameter: parameter, value: value, isHighest: false) : nil
            }
        }
    }

    /// One line naming `settings`' edges, or nil where there are none.
    public func edgeNote(for settings: TrialSettings) -> String? {
        let found = edges(of: settings)
        guard !found.isEmpty else { return nil }
        let named = found.compactMap { edge in ranges[edge.parameter].map { edge.description(in: $0) } }
        return "at the edge of the space: \(named.joined(separator: "; ")); the search could not look past "
            + (found.count == 1 ? "it" : "them") + ", and a --space file can widen " + (found.count == 1 ? "its range" : "their ranges")
    }
}
