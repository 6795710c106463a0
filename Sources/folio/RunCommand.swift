import ArgumentParser
import FolioCore
import FolioPipeline
import Foundation

/// Options every command that reads a pipeline file shares.
struct PipelineOptionGroup: ParsableArguments {
    @Argument(help: "A pipeline file (TOML), e.g. pipelines/demo.toml.")
    var pipeline: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a key, e.g. --set training.epochs=3 --set corpus.path=/data/news (repeatable).",
                                                         valueName: "section.key=value"))
    var overrides: [String] = []

    func read() throws(FolioError) -> PipelineConfig { try PipelineConfig.read(path: pipeline, overrides: overrides) }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline end to end: vocabulary, shards, training, evaluation, report.",
        discussion: "Stages whose inputs and settings are unchanged are skipped; an interrupted training resumes from its last checkpoint when run again."
    )

    @OptionGroup var pipeline: PipelineOptionGroup
    @Option(help: "The run directory (default: runs/<pipeline name>).") var runDir: String?
    @OptionGroup var output: OutputOptionGroup

    func run() throws {
        let display = ProgressDisplay(title: "train")
        let signals = InterruptSignals()
        let result = try runReportingErrors(display, resumeHint: "; run the same command again to resume") { () throws(FolioError) -> PipelineResult in
            let config = try pipeline.read()
            let runner = PipelineRunner(config: config, runDir: runDir)
            runner.stopRequest = signals.stopRequest
            runner.pipelineFile = pipeline.pipeline
            runner.events = display.pipelineEvents()
            runner.communicator = Ranks.communicator
            return try runner.run()
        }
        guard Ranks.prints else { return }
        print("""
            \(result.name): \(result.evaluatedOn) accuracy \(String(format: "%.4f", result.accuracy)), macro-F1 \(String(format: "%.4f", result.macroF1)) \
            on \(result.testExamples) examples (\(String(format: "%.1f", result.seconds)) s); report: \(result.runDir)/report.md
            """)
        if output.json { try printJSON(result) }
    }
}
