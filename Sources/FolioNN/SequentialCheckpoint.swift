import FolioCore
import Foundation

extension Sequential {
    /// Every parameter under its arena name (`layers.<i>.kernel`, ...), BatchNormalization's
    /// moving statistics as `layers.<i>.moving_mean` / `moving_variance`, and the layer specs
    /// as JSON in the metadata (`folio.layers`), so that a file says what model it holds.
    public func save(to path: String) throws(FolioError) {
        var entries: [(name: String, entry: Safetensors.Entry)] = arena.views.map { view in
            (view.name, Safetensors.Entry(shape: view.shape, values: Array(arena.values(of: view))))
        }
        for (index, statistics) in movingStatistics() {
            entries.append(("layers.\(index).moving_mean", Safetensors.Entry(shape: [statistics.movingMean.count], values: statistics.movingMean)))
            entries.append(("layers.\(index).moving_variance", Safetensors.Entry(shape: [statistics.movingVariance.count], values: statistics.movingVariance)))
        }
        let specsJSON: String
        // Sorted keys: the same model gives the same bytes (JSONEncoder's order is not fixed).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { specsJSON = String(decoding: try encoder.encode(specs), as: UTF8.self) } catch {
            throw FolioError("cannot encode the layer specs: \(error)", file: path)
        }
        try Safetensors.write(entries, metadata: ["format": "folio", "folio.layers": specsJSON], to: path)
    }

    /// Loads weights saved by ``save(to:)`` from a model with the same specs: every tensor
    /// must be there with its shape, and the specs must match.
    public func load(from path: String) throws(FolioError) {
        let (tensors, metadata) = try Safetensors.read(path)
        if let saved = metadata["folio.layers"],
           let savedSpecs = try? JSONDecoder().decode([LayerSpec].self, from: Data(saved.utf8)), savedSpecs != specs {
            throw FolioError("the file holds another model (its layers: \(savedSpecs.map(\.name)))", file: path, place: "key __metadata__")
        }
        for view in arena.views {
            guard let entry = tensors[view.name] else { throw FolioError("missing tensor", file: path, place: "key \(view.name)") }
            guard entry.shape == view.shape else {
                throw FolioError("shape \(entry.shape), the model needs \(view.shape)", file: path, place: "key \(view.name)")
            }
            let target = arena.values(of: view)
            for index in entry.values.indices { target[index] = entry.values[index] }
        }
        for (index, statistics) in movingStatistics() {
            for suffix in ["moving_mean", "moving_variance"] {
                let name = "layers.\(index).\(suffix)"
                guard let entry = tensors[name], entry.values.count == statistics.features else {
                    throw FolioError("missing or mis-shaped moving statistics", file: path, place: "key \(name)")
                }
                if suffix == "moving_mean" { statistics.movingMean = entry.values } else { statistics.movingVariance = entry.values }
            }
        }
    }
}
