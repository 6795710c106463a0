import ArgumentParser

@main
struct Folio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folio",
        abstract: "Text classifiers on corpora larger than memory.",
        version: "0.1.0",
        subcommands: [VocabCommand.self, ShardCommand.self, InspectCommand.self, SynthCommand.self, BenchCommand.self]
    )
}
