import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Reference benchmarks (run them from a release build; see bench/).",
        subcommands: [PreprocessingBenchCommand.self, LoaderBenchCommand.self, LSTMBenchCommand.self]
    )
}
