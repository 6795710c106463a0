import FolioNN

/// Every layer kind, with arguments away from their defaults where it has any. The switch
/// has no default: a new kind does not compile until it is listed here, so the tests
/// below cover it.
public let everyLayerKind: [LayerSpec] = {
    func listed(_ spec: LayerSpec) -> LayerSpec {
        switch spec {
        case .embedding, .lstm, .gru, .bidirectional, .dense, .activation, .dropout, .batchNormalization, .conv1D, .maxPooling1D,
             .globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D: spec
        }
    }
    return [
        .embedding(outputDim: 6), .lstm(units: 5, returnSequences: true, dropout: 0.25, recurrentDropout: 0.5),
        .gru(units: 4, returnSequences: true), .bidirectional(.lstm(units: 3, returnSequences: true)), .bidirectional(.gru(units: 2)),
        .dense(units: 7, activation: .relu), .activation(.tanh), .dropout(rate: 0.5), .batchNormalization(momentum: 0.9, epsilon: 0.01),
        .conv1D(filters: 4, kernelSize: 3, padding: .same, activation: .relu), .conv1D(filters: 3, kernelSize: 2),
        .maxPooling1D(poolSize: 3), .globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D,
    ].map(listed)
}()

/// A model around `spec`: an embedding before it and, where it leaves steps, a pooling and
/// a classifier after it.
public func model(around spec: LayerSpec) -> [LayerSpec] {
    if case .embedding = spec { return [spec, .globalAveragePooling1D, .dense(units: 2)] }
    let before: [LayerSpec] = [.embedding(outputDim: 6)]
    switch spec {
    case .globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D: return before + [spec, .dense(units: 2)]
    case .bidirectional(.gru): return before + [spec, .dense(units: 2)]
    default: return before + [spec, .globalMaxPooling1D, .dense(units: 2)]
    }
}
