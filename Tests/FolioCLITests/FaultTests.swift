import FolioTestSupport
import Foundation
import Testing

/// Where a test run looks for what a failure may leave behind.
enum LeftBehind {
    /// Temporary names under `folder` (any depth): `NAME.tmp-PID` files and spill folders.
    static func temporaries(in folder: String) -> [String] {
        let names = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? []
        return names.filter { $0.contains(".tmp-") || ($0 as NSString).lastPathComponent.hasPrefix(".folio-spill-") }.sorted()
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
}

/// `kill -9` during `folio vocab` and `folio shard` at several points (a failpoint makes the
/// process SIGKILL itself there): the killed run leaves its temporaries, and the next run
/// removes them and writes what an uninterrupted run writes.
@Suite(.serialized) struct KilledJobTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-killed-job-")
    var folder: String { temporary.path }
    var corpus: String { folder + "/corpus" }

    init() throws { try TinyCorpus.write(into: folder, trainPerLabel: 40) }

    @Test(arguments: ["vocab-chunk:5", "vocab-merge:1"])
    func killedVocabularyRerunIsCleanAndEqual(failpoint: String) throws {
        let reference = try FolioProcess(["vocab", corpus, "--out", folder + "/reference.tsv"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let out = folder + "/killed-" + failpoint.replacingOccurrences(of: ":", with: "-")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let killed = try FolioProcess(["vocab", corpus, "--out", out + "/vocabulary.tsv"], environment: ["FOLIO_FAILPOINT": failpoint])
        #expect(killed.terminatedBySignal == SIGKILL, "status \(killed.status): \(killed.stderr)")
        #expect(!LeftBehind.temporaries(in: out).isEmpty, "the killed run left its spill folder")
        #expect(!FileManager.default.fileExists(atPath: out + "/vocabulary.tsv"))
        let rerun = try FolioProcess(["vocab", corpus, "--out", out + "/vocabulary.tsv"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(LeftBehind.temporaries(in: out) == [])
        #expect(try LeftBehind.bytes(out + "/vocabulary.tsv") == LeftBehind.bytes(folder + "/reference.tsv"))
    }

    @Test(arguments: ["shard-record:10", "shard-record:100", "shard-manifest:1"])
    func killedShardingRerunIsCleanAndEqual(failpoint: String) throws {
        let vocabulary = folder + "/vocabulary.tsv"
        if !FileManager.default.fileExists(atPath: vocabulary) {
            #expect(try FolioProcess(["vocab", corpus, "--out", vocabulary]).status == 0)
        }
        let shard = { (out: String, environment: [String: String]) in
            try FolioProcess(["shard", corpus, "--vocabulary", vocabulary, "--out", out, "--split", "train"], environment: environment)
        }
        #expect(try shard(folder + "/reference", [:]).status == 0)
        let out = folder + "/killed-" + failpoint.replacingOccurrences(of: ":", with: "-")
        let killed = try shard(out, ["FOLIO_FAILPOINT": failpoint])
        #expect(killed.terminatedBySignal == SIGKILL, "status \(killed.status): \(killed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/manifest.json"), "a killed run's folder is not a shard set")
        if failpoint.hasPrefix("shard-record") {
            #expect(LeftBehind.temporaries(in: out).count == 1, "the shard being written: \(LeftBehind.temporaries(in: out))")
        }
        let rerun = try shard(out, [:])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(LeftBehind.temporaries(in: out) == [])
        let verify = try FolioProcess(["inspect", out, "--verify"])
        #expect(verify.status == 0, "\(verify.stderr)")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder + "/reference") {
            #expect(try LeftBehind.bytes(out + "/" + name) == LeftBehind.bytes(folder + "/reference/" + name), "\(name)")
        }
    }
}

/// SIGINT and SIGTERM during training (a failpoint makes the process send itself the signal
/// after a chosen micro-batch): a checkpoint at the next optimizer-step boundary, exit
/// 128 + signal, one line saying how to resume, and the resumed run's model equals an
/// uninterrupted one's byte for byte.
@Suite(.serialized) struct InterruptedTrainingTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-interrupt-")
    var folder: String { temporary.path }

    init() throws {
        try TinyCorpus.writeRun(into: folder, trainPerLabel: 40, training: """
            epochs = 3
            learning_rate = 0.05
            accumulation_steps = 2
            """)
    }

    @Test(arguments: [("INT", SIGINT), ("TERM", SIGTERM)])
    func runStopsAtAStepBoundaryAndResumes(signal: String, number: Int32) throws {
        let reference = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/reference"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let runDir = folder + "/stopped-" + signal
        let stopped = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", runDir], environment: ["FOLIO_FAILPOINT": "micro-batch:7:" + signal])
        #expect(stopped.terminatedBySignal == nil && stopped.status == 128 + number, "status \(stopped.status): \(stopped.stderr)")
        let last = stopped.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("folio: stopped: \(runDir)/checkpoints: interrupted by SIG\(signal) in epoch 1 after optimizer step 4; checkpoint saved"),
                "\(last)")
        #expect(last.hasSuffix("; run the same command again to resume"))
        #expect(!FileManager.default.fileExists(atPath: runDir + "/model"), "no model from a stopped run")
        let checkpoint = try #require(try JSONSerialization.jsonObject(with: LeftBehind.bytes(runDir + "/checkpoints/checkpoint.json")) as? [String: Any])
        #expect(checkpoint["optimizerSteps"] as? Int == 4)
        let resumed = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", runDir])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try LeftBehind.bytes(runDir + "/model/model.safetensors") == LeftBehind.bytes(folder + "/reference/model/model.safetensors"))
    }

    /// `folio train` names its own way to resume (`--resume`).
    @Test func trainSaysToResumeWithTheFlag() throws {
        let prepared = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/prepared"])
        #expect(prepared.status == 0, "\(prepared.stderr)")
        let arguments = ["train", folder + "/prepared/shards/train", "--epochs", "3", "--batch", "8", "--checkpoints", folder + "/train-checkpoints"]
        let stopped = try FolioProcess(arguments, environment: ["FOLIO_FAILPOINT": "micro-batch:3:TERM"])
        #expect(stopped.status == 143, "\(stopped.stderr)")
        #expect(stopped.stderr.hasSuffix("; run the same command with --resume to continue\n"), "\(stopped.stderr)")
        let resumed = try FolioProcess(arguments + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    /// `--checkpoint-seconds` longer than the run: a stop still leaves a checkpoint to resume
    /// from; a negative value is refused with the key named, before any training.
    @Test func trainTakesCheckpointSecondsAndRefusesANegativeOne() throws {
        let prepared = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/prepared"])
        #expect(prepared.status == 0, "\(prepared.stderr)")
        let arguments = ["train", folder + "/prepared/shards/train", "--epochs", "3", "--batch", "8", "--checkpoints", folder + "/sparse-checkpoints"]
        let stopped = try FolioProcess(arguments + ["--checkpoint-seconds", "1000"], environment: ["FOLIO_FAILPOINT": "micro-batch:5:TERM"])
        #expect(stopped.status == 143, "\(stopped.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/sparse-checkpoints/checkpoint.json"))
        let resumed = try FolioProcess(arguments + ["--checkpoint-seconds", "1000", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let refused = try FolioProcess(arguments + ["--checkpoint-seconds=-1"])
        #expect(refused.status == 1 && refused.stderr.contains("training.checkpoint_seconds: must be above 0"), "\(refused.stderr)")
    }
}

/// Disk full at each write site (`FOLIO_FAILPOINT=enospc:NAME`: the first write of that
/// file fails with ENOSPC): one error line naming the file, exit 1, no temporary left, the
/// files already written still valid, and a rerun that finishes with the reference model.
@Suite(.serialized) struct DiskFullTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-disk-full-")
    var folder: String { temporary.path }

    init() throws {
        try TinyCorpus.writeRun(into: folder, training: "epochs = 2\nlearning_rate = 0.05\ncheckpoint_every = 3")
    }

    @Test(arguments: ["vocabulary.tsv", "shards/train/shard-00000.fol", "shards/train/manifest.json", "checkpoints/weights-3.safetensors",
                      "checkpoints/checkpoint.json", "model/model.safetensors", "model/model.json", "evaluation.json", "report.md", "loss.svg"])
    func aFullDiskAtEachWriteSite(file: String) throws {
        let reference = folder + "/reference"
        if !FileManager.default.fileExists(atPath: reference + "/report.md") {
            #expect(try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", reference]).status == 0)
        }
        let runDir = folder + "/full-" + file.replacingOccurrences(of: "/", with: "-")
        let failed = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", runDir], environment: ["FOLIO_FAILPOINT": "enospc:/" + file])
        #expect(failed.status == 1)
        #expect(failed.stderr.split(separator: "\n").last == "folio: error: \(runDir)/\(file): write failed: No space left on device"[...],
                "\(failed.stderr.suffix(300))")
        #expect(!FileManager.default.fileExists(atPath: runDir + "/" + file))
        #expect(LeftBehind.temporaries(in: runDir) == [])
        // What was written before the failure is whole.
        if FileManager.default.fileExists(atPath: runDir + "/shards/train/manifest.json") {
            #expect(try FolioProcess(["inspect", runDir + "/shards/train", "--verify"]).status == 0)
        }
        if FileManager.default.fileExists(atPath: runDir + "/vocabulary.tsv") {
            #expect(try LeftBehind.bytes(runDir + "/vocabulary.tsv") == LeftBehind.bytes(reference + "/vocabulary.tsv"))
        }
        let rerun = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", runDir])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try LeftBehind.bytes(runDir + "/model/model.safetensors") == LeftBehind.bytes(reference + "/model/model.safetensors"))
    }
}

/// A real full disk and a read-only folder: a tmpfs mounted in a private mount namespace
/// (`unshare -rm`, no root needed), `folio` run inside it.
@Suite(.serialized) struct RealFilesystemFaultTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-tmpfs-")
    var folder: String { temporary.path }

    init() throws { try TinyCorpus.write(into: folder) }

    /// Runs `folio arguments` with a fresh tmpfs of `options` at `folder/mount`, after
    /// `prepare` (shell) has run inside the namespace. The tmpfs goes with the namespace, so
    /// what folio left in it is listed on standard output after folio's own, one name per
    /// line after a `left:` line; folio's exit status is the wrapper's.
    func inNamespace(mount options: String, prepare: String = "true", _ arguments: [String]) throws -> (run: FolioProcess, left: [String]) {
        let mount = folder + "/mount"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let script = "mount -t tmpfs -o \(options) tmpfs \"$0\" && \(prepare) && { \"$@\"; status=$?; echo left:; find \"$0\" -mindepth 1 -printf '%P\\n' | sort; exit $status; }"
        let run = try FolioProcess(executable: "/usr/bin/unshare", ["-rm", "sh", "-c", script, mount, FolioProcess.executable.path] + arguments)
        let left = run.stdout.components(separatedBy: "left:\n").last?.split(separator: "\n").map(String.init) ?? []
        return (run, left)
    }

    @Test func vocabularyOnAFullDisk() throws {
        let out = folder + "/mount/vocabulary.tsv"
        // 8 KiB, all but one page taken by a filler file: the spill folder fits, the file does not.
        let (run, left) = try inNamespace(mount: "size=8k", prepare: "head -c 4096 /dev/zero > \"$0/filler\"",
                                          ["vocab", folder + "/corpus", "--out", out])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr == "folio: error: \(out): write failed: No space left on device\n", "\(run.stderr)")
        #expect(left == ["filler"])
    }

    /// Counting spills (more distinct tokens than 1 MB of counts holds) onto a full disk.
    @Test func spillsOnAFullDisk() throws {
        let text = (0..<150_000).map { "token\($0)" }.joined(separator: " ")
        try FileManager.default.createDirectory(atPath: folder + "/many/a", withIntermediateDirectories: true)
        try text.write(toFile: folder + "/many/a/1.txt", atomically: true, encoding: .utf8)
        let (run, left) = try inNamespace(mount: "size=4k", ["vocab", folder + "/many", "--out", folder + "/mount/vocabulary.tsv",
                                                             "--memory", "1MB", "--threads", "1"])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("folio: error: \(folder)/mount/.folio-spill-") && run.stderr.hasSuffix(": No space left on device\n"),
                "\(run.stderr)")
        #expect(run.stderr.contains("spill file") && run.stderr.split(separator: "\n").count == 1)
        #expect(left == [], "the spill folder is removed: \(left)")
    }

    @Test func vocabularyIntoAReadOnlyFolder() throws {
        let out = folder + "/mount/vocabulary.tsv"
        let (run, _) = try inNamespace(mount: "ro", ["vocab", folder + "/corpus", "--out", out])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("folio: error: \(folder)/mount: cannot create a spill folder: Read-only file system")
                || run.stderr.hasPrefix("folio: error: \(out): cannot create: Read-only file system"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
    }

    /// 4 KiB: the tiny corpus's one shard fits and is renamed into place whole; the
    /// manifest does not, so the folder is no shard set. A corpus whose shard does not fit
    /// leaves an empty folder.
    @Test(arguments: [("corpus", "manifest.json", ["shards", "shards/shard-00000.fol"]), ("many", "shard-00000.fol", ["shards"])])
    func shardsOnAFullDisk(corpus: String, failing: String, expectedLeft: [String]) throws {
        if corpus == "many" {
            try FileManager.default.createDirectory(atPath: folder + "/many/a", withIntermediateDirectories: true)
            try (0..<100_000).map { "word\($0 % 5000)" }.joined(separator: " ").write(toFile: folder + "/many/a/1.txt", atomically: true, encoding: .utf8)
        }
        #expect(try FolioProcess(["vocab", folder + "/" + corpus, "--out", folder + "/vocabulary.tsv"]).status == 0)
        let out = folder + "/mount/shards"
        let (run, left) = try inNamespace(mount: "size=4k", ["shard", folder + "/" + corpus, "--vocabulary", folder + "/vocabulary.tsv", "--out", out])
        #expect(run.status == 1)
        #expect(run.stderr == "folio: error: \(out)/\(failing): write failed: No space left on device\n", "\(run.stderr)")
        #expect(left == expectedLeft, "\(left)")
    }
}

/// A corpus file listed but gone when it is opened (a dangling link stands for one
/// deleted between the listing and the read): one line naming it, exit 1.
@Test func aVanishedCorpusFileIsNamed() throws {
    let folder = TemporaryFolder()
    try TinyCorpus.write(into: folder.path)
    let gone = folder.path + "/corpus/train/astro/zz-gone.txt"
    try FileManager.default.createSymbolicLink(atPath: gone, withDestinationPath: folder.path + "/nowhere.txt")
    let run = try FolioProcess(["vocab", folder.path + "/corpus", "--out", folder.path + "/vocabulary.tsv"])
    #expect(run.status == 1)
    #expect(run.stderr == "folio: error: \(gone): cannot read: No such file or directory\n", "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder.path + "/vocabulary.tsv"))
    #expect(LeftBehind.temporaries(in: folder.path) == [])
}

/// `folio predict --out` killed (SIGKILL, or SIGINT for an orderly stop) mid-run: the output
/// file never appears half-written, and the same command again finishes what was started,
/// byte for byte what an uninterrupted run writes, whatever the last line looked like.
@Suite(.serialized) struct KilledPredictionTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-killed-predict-")
    var folder: String { temporary.path }
    var model: String { folder + "/run/model" }
    var corpus: String { folder + "/corpus/train" }

    init() throws {
        try TinyCorpus.writeRun(into: folder, training: "epochs = 2\nlearning_rate = 0.05")
        let run = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/run"])
        #expect(run.status == 0, "\(run.stderr)")
    }

    func predict(_ out: String, _ extra: [String] = [], input: String? = nil, environment: [String: String] = [:]) throws -> FolioProcess {
        try FolioProcess(["predict", model, input ?? corpus, "--out", out, "--batch", "4", "--commit-seconds", "0"] + extra,
                         environment: environment)
    }

    @Test func aKilledRunResumesToTheSameBytes() throws {
        let reference = try predict(folder + "/reference.jsonl")
        #expect(reference.status == 0, "\(reference.stderr)")
        let out = folder + "/killed.jsonl"
        let killed = try predict(out, environment: ["FOLIO_FAILPOINT": "predict-batch:5"])
        #expect(killed.terminatedBySignal == SIGKILL, "status \(killed.status): \(killed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "no output file until the run is complete")
        // A line cut off mid-write, as a kill during write(2) past the last commit leaves.
        let part = try FileHandle(forWritingTo: URL(fileURLWithPath: out + ".part"))
        part.seekToEndOfFile()
        part.write(Data(#"{"id":"half-writ"#.utf8))
        try part.close()
        let rerun = try predict(out)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("continuing after 16"), "four batches of four were committed: \(rerun.stdout)")
        #expect(try LeftBehind.bytes(out) == LeftBehind.bytes(folder + "/reference.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: out + ".part") && !FileManager.default.fileExists(atPath: out + ".part.position"))
    }

    @Test func anInterruptedRunSaysHowToGoOnAndDoes() throws {
        let reference = try predict(folder + "/reference-int.jsonl")
        let out = folder + "/interrupted.jsonl"
        let stopped = try predict(out, environment: ["FOLIO_FAILPOINT": "predict-batch:3:INT"])
        #expect(stopped.status == 130, "\(stopped.stderr)")
        let message = try #require(stopped.stderr.split(separator: "\n").last)
        #expect(message.hasPrefix("folio: stopped: \(out).part: interrupted by SIGINT after ") && message.hasSuffix("run the same command again to go on"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let rerun = try predict(out)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try LeftBehind.bytes(out) == LeftBehind.bytes(folder + "/reference-int.jsonl"))
        #expect(reference.status == 0)
    }

    @Test func aPartOfAnotherRunIsRefusedUntilRestart() throws {
        let out = folder + "/mixed.jsonl"
        let killed = try predict(out, input: folder + "/corpus/test", environment: ["FOLIO_FAILPOINT": "predict-batch:2"])
        #expect(killed.terminatedBySignal == SIGKILL)
        let refused = try predict(out)
        #expect(refused.status == 1)
        #expect(refused.stderr == "folio: error: \(out).part: an unfinished prediction run for another model or other inputs left this; "
                + "pass --restart to discard it\n")
        let restarted = try predict(out, ["--restart"])
        #expect(restarted.status == 0, "\(restarted.stderr)")
        let reference = try predict(folder + "/reference-restart.jsonl")
        #expect(try LeftBehind.bytes(out) == LeftBehind.bytes(folder + "/reference-restart.jsonl"))
        #expect(reference.status == 0)
    }
}
