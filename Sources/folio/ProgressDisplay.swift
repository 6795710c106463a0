import FolioPipeline
import Glibc

/// Progress on standard error: a bar redrawn in place on a terminal, a plain line every
/// ten seconds otherwise (logs, CI).
final class ProgressDisplay {
    var title: String
    private let isTerminal = ProcessInfoLite.stderrIsTerminal
    /// Lines are spaced by this clock, not by the progress's own seconds (which restart
    /// with each epoch).
    private let started = ContinuousClock.now
    private var lastShown = -Double.infinity
    private var drewBar = false
    /// The last update not shown yet, unformatted: training updates every micro-batch (a
    /// bag model's are a millisecond apart), and formatting each line took about 1 % of
    /// such a run, on every rank of a distributed one.
    private var pending: (() -> String)?

    init(title: String) { self.title = title }

    /// Whether a bar is drawn (then a job may spend a moment measuring its input for it).
    var showsBar: Bool { isTerminal }

    func update(_ progress: JobProgress) {
        show { [title, isTerminal] in Self.line(progress, title: title, bar: isTerminal) }
    }

    private static func line(_ progress: JobProgress, title: String, bar: Bool) -> String {
        let megabytes = Double(progress.bytes) / 1_048_576
        let rate = progress.seconds > 0 ? megabytes / progress.seconds : 0
        let documentRate = progress.seconds > 0 ? Double(progress.documents) / progress.seconds : 0
        var line = "\(title): \(progress.documents) documents (\(Int(documentRate))/s), \(format(megabytes)) MB, \(format(rate)) MB/s"
        if bar, let fraction = progress.fraction {
            line = Self.bar(fraction, width: 24) + " \(Int(fraction * 100))% " + line + ", ETA \(clock(remaining(fraction, progress.seconds)))"
        }
        return line
    }

    /// Training: epoch, batch of batches, running loss and accuracy, tokens/s, ETA of the epoch.
    func update(_ progress: TrainingProgress) {
        show { [title, isTerminal] in Self.line(progress, title: title, bar: isTerminal) }
    }

    private static func line(_ progress: TrainingProgress, title: String, bar: Bool) -> String {
        let fraction = progress.batches > 0 ? min(1, Double(progress.batch) / Double(progress.batches)) : 0
        var line = "\(title): epoch \(progress.epoch + 1)/\(progress.epochs), batch \(progress.batch)/\(progress.batches), "
            + "loss \(String(format: "%.4f", progress.loss)), accuracy \(String(format: "%.4f", progress.accuracy)), "
            + "\(Int(progress.tokensPerSecond)) tokens/s"
        if bar { line = Self.bar(fraction, width: 20) + " " + line + ", ETA \(clock(remaining(fraction, progress.seconds)))" }
        return line
    }

    /// Word vectors: epoch, words read, words/s, ETA of the whole run.
    func update(_ progress: EmbedProgress) {
        show { [title, isTerminal] in Self.line(progress, title: title, bar: isTerminal) }
    }

    private static func line(_ progress: EmbedProgress, title: String, bar: Bool) -> String {
        let fraction = progress.totalWords > 0 ? min(1, Double(progress.wordsRead) / Double(progress.totalWords)) : 0
        let rate = progress.seconds > 0 ? Double(progress.wordsRead) / progress.seconds : 0
        var line = "\(title): epoch \(min(progress.epoch + 1, progress.epochs))/\(progress.epochs), \(progress.wordsRead) words, "
            + "\(Int(rate)) words/s, learning rate \(String(format: "%.5f", progress.learningRate))"
        if bar { line = Self.bar(fraction, width: 20) + " " + line }
        return line + ", ETA \(clock(remaining(fraction, progress.seconds)))"
    }

    /// `[#####.....]`, `fraction` of it filled.
    private static func bar(_ fraction: Double, width: Int) -> String {
        let filled = min(width, max(0, Int(fraction * Double(width))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// Seconds left when `fraction` of the work took `seconds`, at the same pace.
    private static func remaining(_ fraction: Double, _ seconds: Double) -> Double { fraction > 0 ? seconds * (1 - fraction) / fraction : 0 }

    /// A pipeline's events shown here: stages, data jobs, training batches and epochs,
    /// word vectors, notes and warnings (`folio run`, and every run of `folio tune`).
    func pipelineEvents() -> PipelineRunner.Events {
        var events = PipelineRunner.Events()
        events.stage = { name, skipped in
            self.title = name
            self.note(skipped ? "\(name): unchanged, skipped" : "\(name): running")
        }
        events.job = { self.update($0) }
        events.jobEnded = { self.finish() }
        events.training = { self.update($0) }
        events.epoch = { logs in
            self.note("epoch \(logs.epoch): loss \(String(format: "%.4f", logs.loss)), accuracy \(String(format: "%.4f", logs.accuracy))"
                + (logs.valLoss.map { ", val_loss \(String(format: "%.4f", $0))" } ?? "")
                + (logs.valAccuracy.map { ", val_accuracy \(String(format: "%.4f", $0))" } ?? "")
                + ", \(Int(logs.tokensPerSecond)) tokens/s, \(String(format: "%.1f", logs.seconds)) s")
        }
        events.warning = { ProcessInfoLite.printError("folio: warning: \($0)") }
        events.note = { self.note($0) }
        events.embedding = { self.update($0) }
        return events
    }

    /// A finished stage or epoch: its own line in both modes.
    func note(_ line: String) {
        guard Ranks.prints else { return }
        if drewBar { ProcessInfoLite.writeError("\r\u{1B}[K") }
        drewBar = false
        pending = nil
        ProcessInfoLite.printError(line)
    }

    /// A bar is redrawn at most ten times a second, a plain line printed every ten seconds;
    /// the rest wait in ``pending`` unformatted.
    private func show(_ line: @escaping () -> String) {
        guard Ranks.prints else { return }
        let now = (ContinuousClock.now - started).seconds
        guard now - lastShown >= (isTerminal ? 0.1 : 10) else {
            pending = line
            return
        }
        lastShown = now
        pending = nil
        if isTerminal {
            ProcessInfoLite.writeError("\r\u{1B}[K" + line())
            drewBar = true
        } else {
            ProcessInfoLite.printError(line())
        }
    }

    /// Shows the last update if it was not, then ends the bar's line so that what follows
    /// starts on a new one.
    func finish() {
        if let pending {
            lastShown = -.infinity
            show(pending)
        }
        if drewBar { ProcessInfoLite.writeError("\n") }
        drewBar = false
    }

    private static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    private static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let minutes = total / 60
        let rest = total % 60
        return "\(minutes):\(rest < 10 ? "0" : "")\(rest)"
    }
}
