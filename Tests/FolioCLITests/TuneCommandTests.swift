import FolioTestSupport
import Foundation
import Testing

/// `folio tune` on the tiny corpus: the same seed picks the same trial, a killed tune goes
/// on to the same choice, the test split is untouched until the final model, the tuned
/// pipeline runs.
@Suite struct TuneCommandTests {
    let folder = TemporaryFolder()

    init() throws {
        try TinyCorpus.writeRun(into: folder.path, model: TinyCorpus.bagModel.replacingOccurrences(of: "units = 3", with: ""),
                                training: "epochs = 3\nlearning_rate = 0.05")
    }

    /// A tune of 4 trials over a small space (the default one has tables of 400 000 rows: slow
    /// in a debug build), unless `extra` names another space.
    func tune(_ out: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> FolioProcess {
        let small = folder.write("small.toml", "[dim]\nvalues = [8, 16]\n[buckets]\nvalues = [1000]\n[batch_size]\nvalues = [8, 16]\n")
        let space = extra.contains("--space") ? [] : ["--space", small]
        return try FolioProcess(["tune", folder.path + "/tiny.toml", "--trials", "4", "--seed", "5", "--out", folder.path + "/" + out] + space + extra,
                                environment: environment)
    }

    /// trials.jsonl without the seconds (the one figure a rerun does not repeat).
    func trials(_ out: String) throws -> [String] {
        try String(contentsOfFile: folder.path + "/\(out)/trials.jsonl", encoding: .utf8).split(separator: "\n").map { line in
            String(line).replacingOccurrences(of: #""seconds":[0-9.e+-]+"#, with: "", options: .regularExpression)
        }
    }

    func text(_ path: String) throws -> String { try String(contentsOfFile: folder.path + "/" + path, encoding: .utf8) }

    /// A run's metrics.jsonl, an object per epoch.
    func epochs(_ path: String) throws -> [[String: Any]] {
        try text(path).split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func theSameSeedPicksTheSameTrialAndAKilledTuneGoesOnToIt() throws {
        let first = try tune("first", ["--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data((first.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        #expect(result["trials"] as? Int == 4)
        #expect(((result["final"] as? [String: Any])?["test_examples"] as? Int) == 24)
        let second = try tune("second")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try trials("first") == trials("second"))
        #expect(try text("first/tuned.toml") == text("second/tuned.toml"))
        // Killed as the third trial starts, then run again: the same trials, the same choice,
        // each trial once.
        let killed = try tune("killed", environment: ["FOLIO_FAILPOINT": "tune-trial:3"])
        #expect(killed.terminatedBySignal == 9)
        #expect(try trials("killed").count == 2)
        let beforeResuming = try text("killed/trials.jsonl")
        let resumed = try tune("killed")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try trials("killed") == trials("first"))
        // The two finished trials were read back, not trained again (their seconds, which a
        // rerun does not repeat, are kept): seen failing when the tune's identity depended on
        // the process's dictionary order.
        #expect(try text("killed/trials.jsonl").hasPrefix(beforeResuming))
        #expect(try text("killed/tuned.toml") == text("first/tuned.toml"))
        // The tuned pipeline is an ordinary pipeline file.
        let run = try FolioProcess(["run", folder.path + "/first/tuned.toml", "--run-dir", folder.path + "/again", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        // The final model (refit): the chosen trial's kept epochs on the whole training split,
        // validation documents included, with nothing held out to stop it.
        let best = try #require(result["best"] as? [String: Any])
        let bestEpoch = try #require(best["best_epoch"] as? Int)
        #expect(result["final_model"] as? String == "refit")
        let refitted = try epochs("first/final/metrics.jsonl")
        #expect(refitted.count == bestEpoch)
        #expect(refitted.allSatisfy { $0["val_accuracy"] == nil })
        let tuned = try text("first/tuned.toml")
        #expect(tuned.contains("epochs = \(bestEpoch)\n") && !tuned.contains("early_stopping"), "\(tuned)")
        // Replayed instead (the same trials, read back): the trial's validation split, epochs
        // and early stopping, so it stops where the trial stopped and keeps the weights the
        // trial was ranked by, whose validation accuracy is the trial's to the bit.
        let searched = try text("first/trials.jsonl")
        let replay = try tune("first", ["--final", "replay", "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try text("first/trials.jsonl") == searched)
        #expect(try text("first/tuned.toml").contains("restore_best_weights = true"))
        let replayed = try epochs("first/final/metrics.jsonl")
        #expect(replayed.count == best["epochs_run"] as? Int)
        #expect(replayed[bestEpoch - 1]["val_accuracy"] as? Double == best["val_accuracy"] as? Double)
        #expect((refitted.first?["samples"] as? Int ?? 0) > (replayed.first?["samples"] as? Int ?? .max), "the refit trains on more documents")
        #expect(try text("first/tune.md").contains("**Chosen:** trial"))
        #expect(try text("first/search.svg").hasPrefix("<svg"))
    }

    /// The last lines name a chosen setting at an end of its range: with one trial and
    /// everything else fixed, they do exactly when its dim is the first or last of three.
    @Test func theChosenSettingsAtTheEndsOfTheirRangesAreNamed() throws {
        let space = folder.write("edges.toml", "[dim]\nvalues = [8, 16, 32]\n[buckets]\nvalues = [1000]\n[batch_size]\nvalues = [8]\n"
                                     + "[learning_rate]\nvalues = [0.05]\n[max_length]\nvalues = [16]\n")
        let run = try tune("edges", ["--space", space, "--trials", "1", "--search-only", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data((run.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        let settings = try #require(((result["best"] as? [String: Any])?["settings"] as? [String: Any])?["values"] as? [String: Any])
        let dim = try #require(settings["dim"] as? Double)
        #expect(dim != 16, "seed 5's first draw is an end of the list (or the named case goes untested)")
        let named = "chosen at the edge of the space: dim \(Int(dim)) (the \(dim == 32 ? "highest" : "lowest") of 8, 16, 32)"
        #expect(run.stdout.contains(named) == (dim != 16), "\(run.stdout)")
        #expect(try text("edges/tune.md").contains("at the edge of the space") == (dim != 16))
    }

    /// A trial past its best stops (patience: a fifth of its rung's epochs, at least 2) and is
    /// ranked by its best epoch's weights. Seen failing with trials that train their whole rung.
    @Test func aTrialPastItsBestStops() throws {
        let space = folder.write("long.toml", "epochs = 20\n[dim]\nvalues = [8]\n[buckets]\nvalues = [1000]\n[batch_size]\nvalues = [8]\n")
        let run = try tune("long", ["--space", space, "--search-only"])
        #expect(run.status == 0, "\(run.stderr)")
        let records = try String(contentsOfFile: folder.path + "/long/trials.jsonl", encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let longest = try #require(records.first { $0["epochs"] as? Int == 20 })
        let (ran, best) = (try #require(longest["epochs_run"] as? Int), try #require(longest["best_epoch"] as? Int))
        #expect(ran < 20 && ran == best + 4, "ran \(ran) epochs, best \(best)")
    }

    /// Until the final model the test split is not read: killed right before it (and with
    /// --search-only, scoring the choice on two more holdouts), no test shards exist and
    /// nothing was evaluated.
    @Test func theSearchNeverReadsTheTestSplit() throws {
        let killed = try tune("killed", environment: ["FOLIO_FAILPOINT": "tune-final:1"])
        #expect(killed.terminatedBySignal == 9)
        #expect(try trials("killed").count >= 4)
        #expect(FileManager.default.fileExists(atPath: folder.path + "/killed/tuned.toml"))
        #expect(FileManager.default.fileExists(atPath: folder.path + "/killed/data/shards/train/manifest.json"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/killed/data/shards/test"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/killed/final"))
        let searchOnly = try tune("search", ["--search-only", "--holdouts", "2"])
        #expect(searchOnly.status == 0, "\(searchOnly.stderr)")
        #expect(!searchOnly.stdout.contains("final model"))
        #expect(searchOnly.stdout.contains("on 2 more holdouts (validation_seed 1-2): mean validation accuracy "), "\(searchOnly.stdout)")
        let refused = try tune("refused", ["--search-only", "--holdouts", "101"])
        #expect(refused.status != 0 && refused.stderr.contains("--holdouts must be in 0...100, not 101"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/search/data/shards/test"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/search/final"))
    }

    /// A space file replaces ranges; an unknown parameter names the file and line.
    @Test func aSpaceFileNarrowsTheSearch() throws {
        let space = folder.write("space.toml", "epochs = 2\n[learning_rate]\nmin = 0.01\nmax = 0.02\n[batch_size]\nvalues = [4]\n[buckets]\nvalues = [1000]\n[dim]\nvalues = [8]\n")
        let run = try tune("narrow", ["--space", space, "--search-only"])
        #expect(run.status == 0, "\(run.stderr)")
        for line in try String(contentsOfFile: folder.path + "/narrow/trials.jsonl", encoding: .utf8).split(separator: "\n") {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let settings = try #require((record["settings"] as? [String: Any])?["values"] as? [String: Double])
            #expect(settings["batch_size"] == 4)
            #expect((0.01...0.02).contains(settings["learning_rate"] ?? 0))
            #expect((record["epochs"] as? Int ?? 0) <= 2)
        }
        let bad = folder.write("bad.toml", "[learning_rate]\nmin = 0.01\nmax = 0.02\n[momentum]\nvalues = [0.9]\n")
        let refused = try tune("bad", ["--space", bad])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("folio: error: \(bad): line 4, key momentum: unknown key 'momentum'"), "\(refused.stderr)")
    }
}
