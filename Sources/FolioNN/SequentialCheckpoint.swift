import FolioCore
import Foundation

extension Sequential {
    /// Every parameter under its arena name (`layers.<i>.kernel`, ...), BatchNormalization's
    /// moving statistics as `layers.<i>.moving_mean` / `moving_variance`, and the layer specs
    /// as JSON in the metadata (`folio.layers`), so that a file says what model it holds.
    public func save(to path: String) throws(FolioError) {
        try saveUncommitted(to: path).commit()
    }

    /// ``save(to:)`` but for the commit, which the caller makes (``AtomicFile/commit()``).
    public func saveUncommitted(to path: String) throws(FolioError) -> AtomicFile {
        // The arena is written straight from its memory: a copy would double a large
        // embedding's footprint at every checkpoint.
        var layout = arena.views.map { (name: $0.name, shape: $0.shape) }
        var statistics: [[Float]] = []
        for (index, layer) in movingStatistics() {
            layout += [("layers.\(index).moving_mean", [layer.movingMean.count]), ("layers.\(index).moving_variance", [layer.movingVariance.count])]
            statistics += [layer.movingMean, layer.movingVariance]
        }
        let specsJSON: String
        // Sorted keys: the same model gives the same bytes (JSONEncoder's order is not fixed).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { specsJSON = String(decoding: try encoder.encode(specs), as: UTF8.self) } catch {
            throw FolioError("cannot encode the layer specs: \(error)", file: path)
        }
        let views = arena.views
        return try Safetensors.writeUncommitted(layout: layout, metadata: ["format": "folio", "folio.layers": specsJSON], to: path) { index, file throws(FolioError) in
            if index < views.count {
                try file.write(raw: UnsafeRawBufferPointer(arena.values(of: views[index])))
            } else {
                try statistics[index - views.count].withUnsafeBytes { raw in Swift.Result { () throws(FolioError) in try file.write(raw: raw) } }.get()
            }
        }
    }

    /// Loads weights saved by ``save(to:)`` from a model with the same specs: every tensor
    /// must be there with its shape, and the specs must match.
    public func load(from path: String) throws(FolioError) {
        let file = try SafetensorsFile(path: path)
        if let saved = file.metadata["folio.layers"],
           let savedSpecs = try? JSONDecoder().decode([LayerSpec].self, from: Data(saved.utf8)), savedSpecs != specs {
            throw FolioError("the file holds another model (its layers: \(savedSpecs.map(\.name)))", file: path, place: "key __metadata__")
        }
        for view in arena.views {
            guard let tensor = file.tensors[view.name] else { throw FolioError("missing tensor", file: path, place: "key \(view.name)") }
            guard tensor.shape == view.shape else {
                throw FolioError("shape \(tensor.shape), the model needs \(view.shape)", file: path, place: "key \(view.name)")
            }
        }
        for (index, statistics) in movingStatistics() {
            for suffix in ["moving_mean", "moving_variance"] {
                let name = "layers.\(index).\(suffix)"
                guard file.tensors[name]?.count == statistics.features else {
                    throw FolioError("missing or mis-shaped moving statistics", file: path, place: "key \(name)")
                }
            }
        }
        // Checked first, so a bad file leaves the model as it was.
        for view in arena.views { try file.read(view.name, into: arena.values(of: view)) }
        projectedEmbedding?.weightsChanged()
        for (index, statistics) in movingStatistics() {
            var mean = [Float](repeating: 0, count: statistics.features)
            var variance = mean
            try mean.withUnsafeMutableBufferPointer { buffer in
                Swift.Result { () throws(FolioError) in try file.read("layers.\(index).moving_mean", into: buffer) }
            }.get()
            try variance.withUnsafeMutableBufferPointer { buffer in
                Swift.Result { () throws(FolioError) in try file.read("layers.\(index).moving_variance", into: buffer) }
            }.get()
            statistics.movingMean = mean
            statistics.movingVariance = variance
        }
    }
}

/// A model's weights held in memory (its arena and BatchNormalization's moving statistics):
/// what Keras's `EarlyStopping(restore_best_weights=True)` keeps when no checkpoint folder
/// is there to hold the best epoch's file (a tune's trials).
public struct WeightsSnapshot: Sendable {
    var values: [Float]
    var statistics: [(mean: [Float], variance: [Float])]
}

extension Sequential {
    public func snapshot() -> WeightsSnapshot {
        WeightsSnapshot(values: Array(arena.values.prefix(arena.count)), statistics: statisticsCopy())
    }

    /// BatchNormalization's moving statistics, layer by layer, as a snapshot keeps them.
    private func statisticsCopy() -> [(mean: [Float], variance: [Float])] {
        movingStatistics().map { ($0.1.movingMean, $0.1.movingVariance) }
    }

    /// Takes a snapshot into `snapshot`, over the old one's memory when it holds this
    /// model's weights: `snapshot = snapshot()` would hold the old and the new copy at once
    /// (the new one is made before the old one goes), one parameter set more than the
    /// memory plan's `best_weights` counts.
    public func snapshot(into snapshot: inout WeightsSnapshot?) {
        guard snapshot?.values.count == arena.count else {
            snapshot = nil
            snapshot = self.snapshot()
            return
        }
        _ = snapshot?.values.withUnsafeMutableBufferPointer { $0.update(fromContentsOf: arena.values[..<arena.count]) }
        snapshot?.statistics = statisticsCopy()
    }

    /// Puts back the weights of ``snapshot()``, taken from this model.
    public func restore(_ snapshot: WeightsSnapshot) {
        precondition(snapshot.values.count == arena.count, "a snapshot of another model")
        _ = UnsafeMutableBufferPointer(rebasing: arena.values[..<arena.count]).update(fromContentsOf: snapshot.values)
        projectedEmbedding?.weightsChanged()
        for ((_, layer), saved) in zip(movingStatistics(), snapshot.statistics) {
            layer.movingMean = saved.mean
            layer.movingVariance = saved.variance
        }
    }
}
