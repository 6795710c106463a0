import ArgumentParser
import FolioNN
import Foundation

@main
enum FolioMain {
    static func main() {
        BLASCoreSelection.reexecIfNeeded()
        // A FOLIO_ISA this CPU cannot honour stops here, before any work, rather than
        // running on a path the user did not ask for.
        if let error = KernelSet.environmentError {
            ProcessInfoLite.printError("folio: error: \(error)")
            exit(2)
        }
        configureForTraining()
        _ = Ranks.communicator
        Folio.main()
        Ranks.finish()
    }
}

struct Folio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folio",
        abstract: "Text classifiers on corpora larger than memory.",
        version: "0.1.0",
        subcommands: [RunCommand.self, VocabCommand.self, ShardCommand.self, InspectCommand.self, TrainCommand.self, EvalCommand.self, EmbedCommand.self,
                      PredictCommand.self, PlanCommand.self, SweepCommand.self, TuneCommand.self, SynthCommand.self, BenchCommand.self]
    )
}
