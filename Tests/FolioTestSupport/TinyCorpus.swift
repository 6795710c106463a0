import Foundation

/// A tiny label-per-folder corpus whose label shows in its words (3 topics, train and test
/// splits), and pipeline text over it: what the pipeline and CLI tests train in a second.
public enum TinyCorpus {
    public static let labels = ["astro", "music", "cook"]
    static let topics = [["planet", "orbit", "comet", "galaxy"], ["violin", "melody", "chord", "choir"], ["tomato", "basil", "oven", "garlic"]]
    static let common = ["the", "a", "of", "and", "with", "new", "old"]

    /// Writes `folder/corpus/{train,test}/<label>/<n>.txt`.
    public static func write(into folder: String, seed: UInt64 = 11, trainPerLabel: Int = 30, testPerLabel: Int = 8) throws {
        var random = SplitMix64(seed: seed)
        for (split, count) in [("train", trainPerLabel), ("test", testPerLabel)] {
            for (label, words) in zip(labels, topics) {
                try FileManager.default.createDirectory(atPath: "\(folder)/corpus/\(split)/\(label)", withIntermediateDirectories: true)
                for index in 0..<count {
                    let text = (0..<(4 + Int(random.next() % 10))).map { _ in
                        random.next() % 3 == 0 ? words[Int(random.next() % 4)] : common[Int(random.next() % 7)]
                    }
                    try text.joined(separator: " ").write(toFile: "\(folder)/corpus/\(split)/\(label)/\(index).txt", atomically: true, encoding: .utf8)
                }
            }
        }
    }

    /// The corpus and `folder/tiny.toml` over it (the bag model unless `model` is given):
    /// what the CLI tests of whole runs start from.
    public static func writeRun(into folder: String, trainPerLabel: Int = 30, model: String = bagModel, training: String) throws {
        try write(into: folder, trainPerLabel: trainPerLabel)
        try pipeline(model: model, training: training).write(toFile: folder + "/tiny.toml", atomically: true, encoding: .utf8)
    }

    /// A pipeline over `corpus` (relative to the pipeline file's folder): `model` is its
    /// `[[model.layers]]` text, `training` the `[training]` table's lines.
    public static func pipeline(name: String = "tiny", model: String, training: String) -> String {
        """
        name = "\(name)"
        seed = 3
        [corpus]
        path = "corpus"
        [loader]
        batch_size = 8
        max_length = 16
        \(model)
        [training]
        \(training)
        """
    }

    /// A small LSTM: embedding 8, LSTM 8 with `dropout`, the classifier (`units`: a count,
    /// or `"labels"` quoted).
    public static func lstmModel(dropout: Double, units: String = "3") -> String {
        """
        [[model.layers]]
        type = "embedding"
        output_dim = 8
        [[model.layers]]
        type = "lstm"
        units = 8
        dropout = \(dropout)
        [[model.layers]]
        type = "dense"
        units = \(units)
        """
    }

    public static let bagModel = """
        [[model.layers]]
        type = "embedding"
        output_dim = 8
        [[model.layers]]
        type = "global_average_pooling1d"
        [[model.layers]]
        type = "dense"
        units = 3
        """
}
