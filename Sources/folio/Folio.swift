import ArgumentParser

@main
enum FolioMain {
    static func main() {
        BLASCoreSelection.reexecIfNeeded()
        Folio.main()
    }
}

struct Folio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folio",
        abstract: "Text classifiers on corpora larger than memory.",
        version: "0.1.0",
        subcommands: [VocabCommand.self, ShardCommand.self, InspectCommand.self, TrainCommand.self, SynthCommand.self, BenchCommand.self]
    )
}
