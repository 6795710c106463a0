import ArgumentParser
import FolioNN

@main
enum FolioMain {
    static func main() {
        BLASCoreSelection.reexecIfNeeded()
        // Folio's own threads (the LSTM's lanes) do the parallel work; OpenBLAS threads
        // would spin beside them (DESIGN.md section 8: BLAS threading is set explicitly).
        Gemm.setThreads(1)
        FreedMemoryReuse.enable()
        Folio.main()
    }
}

struct Folio: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folio",
        abstract: "Text classifiers on corpora larger than memory.",
        version: "0.1.0",
        subcommands: [RunCommand.self, VocabCommand.self, ShardCommand.self, InspectCommand.self, TrainCommand.self, EvalCommand.self,
                      PredictCommand.self, PlanCommand.self, SweepCommand.self, SynthCommand.self, BenchCommand.self]
    )
}
