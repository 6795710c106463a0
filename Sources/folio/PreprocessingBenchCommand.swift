import ArgumentParser
import FolioCore
import FolioPreprocessing
import Foundation

/// StandardScaler partial fit + transform and L2 normalize over `rows` x `columns` Float
/// rows in batches, as bench/preprocessing_peer.py does with scikit-learn.
struct PreprocessingBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocessing",
        abstract: "Rows/s of StandardScaler partialFit and transform, and of L2 Normalizer, on Float rows."
    )

    @Option(help: "Rows in all.") var rows = 1_000_000
    @Option(help: "Columns per row.") var columns = 300
    @Option(help: "Rows per batch.") var batch = 10_000
    @Option(help: "Distinct pre-made batches cycled through (their making is not timed).") var pool = 10
    @OptionGroup var output: OutputOptionGroup

    struct Result: Encodable {
        var rows: Int
        var columns: Int
        var batch: Int
        var partial_fit_rows_per_s: Double
        var transform_rows_per_s: Double
        var normalize_rows_per_s: Double
        var peak_rss_mb: Double
    }

    func run() throws {
        var generator = SplitMix64(seed: 42)
        let (batch, columns) = (self.batch, self.columns)  // not through the option wrappers per element
        let batches: [Matrix<Float>] = try (0..<pool).map { _ in
            try Matrix(rows: batch, columns: columns, values: (0..<batch * columns).map { index in
                Float(generator.nextUnit() * 4 - 2) + Float(index % columns)
            })
        }
        let steps = rows / batch
        let clock = ContinuousClock()

        var scaler = StandardScaler<Float>()
        var start = clock.now
        for step in 0..<steps { try scaler.partialFit(batches[step % pool]) }
        let fitSeconds = (clock.now - start).seconds

        var checksum: Float = 0
        start = clock.now
        for step in 0..<steps { checksum += try scaler.transform(batches[step % pool]).values[step % columns] }
        let transformSeconds = (clock.now - start).seconds

        let normalizer = Normalizer<Float>(norm: .l2)
        start = clock.now
        for step in 0..<steps { checksum += try normalizer.transform(batches[step % pool]).values[step % columns] }
        let normalizeSeconds = (clock.now - start).seconds

        let total = Double(steps * batch)
        let result = Result(
            rows: steps * batch, columns: columns, batch: batch,
            partial_fit_rows_per_s: total / fitSeconds, transform_rows_per_s: total / transformSeconds,
            normalize_rows_per_s: total / normalizeSeconds, peak_rss_mb: peakResidentMegabytes())
        if output.json {
            try printJSON(result)
        } else {
            print("partialFit \(Int(result.partial_fit_rows_per_s)) rows/s, transform \(Int(result.transform_rows_per_s)) rows/s, "
                + "L2 normalize \(Int(result.normalize_rows_per_s)) rows/s (checksum \(checksum))")
        }
    }
}

