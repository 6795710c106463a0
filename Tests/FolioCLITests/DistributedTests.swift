import FolioCore
import FolioNN
import FolioShards
import FolioTestSupport
import Foundation
import Testing

/// `mpirun -np N folio ...` on this machine (loopback): the distributed jobs give the
/// one-process results. Open MPI is a dependency (`make deps`), so a missing `mpirun`
/// fails here rather than skipping.
@Suite struct DistributedTests {
    let folder = TemporaryFolder()

    init() throws {
        #expect(FileManager.default.isExecutableFile(atPath: FolioProcess.mpirun), "no \(FolioProcess.mpirun): run make deps")
        try TinyCorpus.write(into: folder.path, trainPerLabel: 40)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A JSONL corpus with test lines, a blank line and lines of other splits, so that the
    /// ranks' ordinals include lines none of them reads.
    func writeJSONL() -> String {
        var lines: [String] = []
        var random = SplitMix64(seed: 9)
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "straße", "naïve"]
        for index in 0..<157 {
            let text = (0..<(3 + Int(random.next() % 9))).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ")
            let split = index % 5 == 0 ? "test" : "train"
            lines.append(#"{"text": "\#(text)", "label": "l\#(index % 4)", "split": "\#(split)"}"#)
            if index == 40 { lines.append("") }
        }
        return folder.write("corpus.jsonl", lines.joined(separator: "\n") + "\n")
    }

    @Test(arguments: [2, 3])
    func theVocabularyIsTheOneProcessFileByteForByte(ranks: Int) throws {
        for corpus in [folder.path + "/corpus", writeJSONL()] {
            let single = try FolioProcess(["vocab", corpus, "--out", folder.path + "/one.tsv", "--json"])
            #expect(single.status == 0, "\(single.stderr)")
            let many = try FolioProcess(ranks: ranks, ["vocab", corpus, "--out", folder.path + "/many.tsv", "--threads", "1", "--json"])
            #expect(many.status == 0, "\(many.stderr)")
            #expect(try bytes(folder.path + "/one.tsv") == bytes(folder.path + "/many.tsv"), "\(corpus)")
            // Rank 0 alone reports, with every rank's documents and tokens.
            let reports = many.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(reports.count == 1)
            let report = try #require(try JSONSerialization.jsonObject(with: Data((reports.first ?? "").utf8)) as? [String: Any])
            let alone = try #require(try JSONSerialization.jsonObject(with: Data((single.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
            for key in ["documents", "tokens", "distinct_tokens", "vocabulary_size"] {
                #expect(report[key] as? Int == alone[key] as? Int, "\(key)")
            }
            // No rank left a spill folder behind.
            let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".folio-spill") }
            #expect(left.isEmpty)
        }
    }

    /// Every record of a shard set as (label name, ids), sorted: the set as a multiset.
    func records(_ folder: String) throws -> [String] {
        let set = try ShardSet(folder: folder)
        var records: [String] = []
        for shard in set.manifest.shards.indices {
            let reader = try set.reader(forShard: shard)
            for block in reader.blocks.indices {
                try reader.forEachRecord(inBlock: block) { _, label, ids in
                    records.append(set.manifest.labels[Int(label)] + ":" + ids.map(String.init).joined(separator: ","))
                }
            }
        }
        return records.sorted()
    }

    @Test(arguments: [2, 3])
    func theShardsHoldTheOneProcessRecordsAndVerify(ranks: Int) throws {
        for corpus in [folder.path + "/corpus", writeJSONL()] {
            let vocabulary = folder.path + "/vocabulary.tsv"
            #expect(try FolioProcess(["vocab", corpus, "--out", vocabulary]).status == 0)
            let single = try FolioProcess(["shard", corpus, "--vocabulary", vocabulary, "--out", folder.path + "/one", "--shard-size", "64KB", "--json"])
            #expect(single.status == 0, "\(single.stderr)")
            for run in ["many", "again"] {
                let many = try FolioProcess(ranks: ranks, ["shard", corpus, "--vocabulary", vocabulary, "--out", folder.path + "/" + run,
                                                           "--shard-size", "64KB", "--threads", "1", "--json"])
                #expect(many.status == 0, "\(many.stderr)")
                #expect(many.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1)
            }
            let manifest = try ShardManifest.read(folder: folder.path + "/many")
            #expect(Set(manifest.shards.map { $0.file.prefix(10) }).count == ranks, "every rank wrote shards: \(manifest.shards.map(\.file))")
            #expect(try records(folder.path + "/many") == records(folder.path + "/one"))
            #expect(manifest.labels == (try ShardManifest.read(folder: folder.path + "/one")).labels)
            // Deterministic for a given N: a second run writes the same manifest.
            #expect(try bytes(folder.path + "/many/manifest.json") == bytes(folder.path + "/again/manifest.json"))
            let verify = try FolioProcess(["inspect", folder.path + "/many", "--verify"])
            #expect(verify.status == 0 && verify.stdout.contains("verified"), "\(verify.stderr)")
        }
    }

    /// The tiny corpus's pipeline: an LSTM with dropout, lazy embedding updates, a
    /// validation split and early stopping that restores the best epoch's weights.
    func pipeline(accumulation: Int, file: String) -> String {
        let training = """
            epochs = 3
            learning_rate = 0.02
            accumulation_steps = \(accumulation)
            checkpoint_every = 2
            validation_split = 0.2
            lazy_embedding_updates = true
            [training.early_stopping]
            monitor = "val_accuracy"
            patience = 3
            restore_best_weights = true
            """
        return folder.write(file, TinyCorpus.pipeline(model: TinyCorpus.lstmModel(dropout: 0.2, units: #""labels""#), training: training))
    }

    /// A run's weights, every tensor's values in name order.
    func weights(_ run: String) throws -> [Float] {
        let (tensors, _) = try Safetensors.read(folder.path + "/\(run)/model/model.safetensors")
        return tensors.keys.sorted().flatMap { tensors[$0]!.values }
    }

    /// 2 ranks accumulating 2 against 1 rank accumulating 4 on the same shards: the same
    /// weights to 1e-5; two 2-rank runs bit for bit; the evaluation the same.
    @Test func twoRanksTrainWhatOneRankWithTwiceTheAccumulationTrains() throws {
        let two = pipeline(accumulation: 2, file: "two.toml")
        let four = pipeline(accumulation: 4, file: "four.toml")
        let first = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/a", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("gradient reduction:"), "\(first.stderr)")
        // The same data stages for the one-rank run: a copy of the run directory.
        try FileManager.default.copyItem(atPath: folder.path + "/a", toPath: folder.path + "/one")
        let single = try FolioProcess(["run", four, "--run-dir", folder.path + "/one", "--json"])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(single.stderr.contains("vocabulary: unchanged, skipped") && single.stderr.contains("shards: unchanged, skipped"))
        try FileManager.default.copyItem(atPath: folder.path + "/a", toPath: folder.path + "/b")
        try FileManager.default.removeItem(atPath: folder.path + "/b/model")
        try FileManager.default.removeItem(atPath: folder.path + "/b/checkpoints")
        let second = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/b", "--json"])
        #expect(second.status == 0, "\(second.stderr)")

        let (a, b, one) = (try weights("a"), try weights("b"), try weights("one"))
        #expect(a == b)
        let difference = zip(a, one).map { abs($0 - $1) }.max() ?? .infinity
        #expect(a.count == one.count && difference < 1e-5, "largest difference \(difference)")
        let figures = { (run: FolioProcess) in run.stdout.split(separator: "\n").last.map(String.init) ?? "" }
        let accuracy = { (line: String) in (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["accuracy"] as? Double }
        #expect(accuracy(figures(first)) != nil && accuracy(figures(first)) == accuracy(figures(single)))
        // folio eval over 2 ranks (each its turns of the batches): one process's figures.
        let arguments = ["eval", folder.path + "/a/model", folder.path + "/a/shards/test", "--batch", "5", "--json"]
        let alone = try FolioProcess(arguments)
        let split = try FolioProcess(ranks: 2, arguments)
        #expect(alone.status == 0 && split.status == 0, "\(split.stderr)")
        let parse = { (run: FolioProcess) in try JSONSerialization.jsonObject(with: Data((run.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any] }
        let (byOne, byTwo) = (try #require(try parse(alone)), try #require(try parse(split)))
        #expect(byOne["confusion"] as? [[Int]] == byTwo["confusion"] as? [[Int]] && byOne["test_examples"] as? Int == 24)
        #expect(byOne["accuracy"] as? Double == byTwo["accuracy"] as? Double)
        #expect(abs((byOne["loss"] as? Double ?? 0) - (byTwo["loss"] as? Double ?? 1)) < 1e-9)
    }

    /// The bag model with hashed bigrams, TF-IDF weights and plain SGD, as the shipped
    /// recipe, with a validation split and checkpoints within epochs.
    func bag(accumulation: Int, splitsRows: Bool, file: String) -> String {
        folder.write(file, TinyCorpus.pipeline(model: "[model]\nngrams = 2\nbuckets = 500\nweighting = \"tfidf\"\n" + TinyCorpus.bagModel, training: """
            epochs = 3
            optimizer = "sgd"
            learning_rate = 0.5
            accumulation_steps = \(accumulation)
            lazy_embedding_updates = true
            split_embedding_rows = \(splitsRows)
            checkpoint_every = 2
            validation_split = 0.2
            """))
    }

    /// The bag model over 2 ranks trains what one rank with twice the accumulation trains,
    /// to 1e-5, and two 2-rank runs agree bit for bit, whether the ranks split the batches
    /// (the table's update split too: Open MPI's reduce-scatter, then each rank's updated
    /// rows gathered to all; a step touches few of the 500 buckets, so the sparse way) or
    /// deal the table's rows (each rank runs every batch over its own rows).
    @Test(arguments: [false, true])
    func twoRanksTrainingTheBagModelTrainWhatOneRankTrains(splitsRows: Bool) throws {
        let two = bag(accumulation: 1, splitsRows: splitsRows, file: "bag-two.toml")
        let four = bag(accumulation: 2, splitsRows: splitsRows, file: "bag-four.toml")
        let first = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/a"])
        #expect(first.status == 0, "\(first.stderr)")
        if splitsRows {
            #expect(first.stderr.range(of: #"embedding rows split between 2 ranks: [0-9.]+ s per step in collectives, [1-9][0-9]* bytes"#,
                                       options: .regularExpression) != nil, "\(first.stderr)")
            #expect(!first.stderr.contains("gradient reduction:"))
        } else {
            // Row ids crossed: the sparse way, not the whole table.
            #expect(first.stderr.range(of: #"floats and [1-9][0-9]* row ids"#, options: .regularExpression) != nil, "\(first.stderr)")
        }
        try FileManager.default.copyItem(atPath: folder.path + "/a", toPath: folder.path + "/one")
        let single = try FolioProcess(["run", four, "--run-dir", folder.path + "/one"])
        #expect(single.status == 0, "\(single.stderr)")
        try FileManager.default.copyItem(atPath: folder.path + "/a", toPath: folder.path + "/b")
        try FileManager.default.removeItem(atPath: folder.path + "/b/model")
        try FileManager.default.removeItem(atPath: folder.path + "/b/checkpoints")
        let second = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/b"])
        #expect(second.status == 0, "\(second.stderr)")
        let (a, b, one) = (try weights("a"), try weights("b"), try weights("one"))
        #expect(a == b)
        let difference = zip(a, one).map { abs($0 - $1) }.max() ?? .infinity
        #expect(a.count == one.count && difference < 1e-5, "largest difference \(difference)")
        #expect(a != one.map { _ in 0 })
        // The epochs' figures (summed once, whichever way the ranks share the work) and the
        // validation on the synchronized table: one rank's.
        let epochs = { (run: String) throws -> [[String: Any]] in
            try String(contentsOfFile: self.folder.path + "/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let (byTwo, byOne) = (try epochs("a"), try epochs("one"))
        #expect(byTwo.count == 3 && byOne.count == 3)
        for (two, one) in zip(byTwo, byOne) {
            for key in ["samples", "optimizer_steps"] { #expect(two[key] as? Int == one[key] as? Int, "\(key)") }
            for key in ["loss", "val_loss"] {
                #expect(abs((two[key] as? Double ?? 0) - (one[key] as? Double ?? 1)) < 1e-4, "\(key): \(two) against \(one)")
            }
        }
        guard splitsRows else { return }
        // Rank 1 killed at its 7th micro-batch (after the checkpoint of step 2, which
        // synchronized the rows): the same command resumes to the weights of run a.
        try FileManager.default.copyItem(atPath: folder.path + "/b", toPath: folder.path + "/killed")
        try FileManager.default.removeItem(atPath: folder.path + "/killed/model")
        try FileManager.default.removeItem(atPath: folder.path + "/killed/checkpoints")
        let killed = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/killed"],
                                      environment: ["FOLIO_FAILPOINT": "micro-batch:7", "FOLIO_FAILPOINT_RANK": "1"])
        #expect(killed.status != 0)
        let resumed = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/killed"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try weights("killed") == a)
    }

    /// A rank whose weights drift is caught by the weight check, naming the rank; a rank
    /// killed mid-training stops the run, and the same command resumes to the weights of
    /// an uninterrupted run.
    @Test func aDriftingRankIsCaughtAndAKilledRunResumes() throws {
        let two = pipeline(accumulation: 1, file: "two.toml")
        let drift = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/drift"], environment: ["FOLIO_FAILPOINT": "perturb-weights:1"])
        #expect(drift.status != 0)
        #expect(drift.stderr.contains("the weights of rank 1 differ from rank 0's"), "\(drift.stderr)")

        let whole = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/whole"])
        #expect(whole.status == 0, "\(whole.stderr)")
        // Rank 1 alone is killed (-9) at its 7th micro-batch, after the checkpoint of step 6:
        // the launcher stops rank 0 (waiting for it in a reduction), naming the rank.
        let started = ContinuousClock.now
        let killed = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/killed"],
                                      environment: ["FOLIO_FAILPOINT": "micro-batch:7", "FOLIO_FAILPOINT_RANK": "1"])
        #expect(killed.status != 0)
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(killed.stderr.contains("rank 1"), "\(killed.stderr)")
        let resumed = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/killed"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try weights("killed") == weights("whole"))
    }

    /// Two hosts made of two network namespaces joined by a veth pair: rank 0 in one, rank 1
    /// in the other, Open MPI's TCP transport between them and mpirun's remote launcher
    /// pointed at `ip netns exec`. The run gives the loopback run's weights bit for bit.
    /// Needs root (to make namespaces), as CI has.
    @Test(.enabled(if: getuid() == 0, "making network namespaces needs root"))
    func twoHostsOverAVethPairTrainTheLoopbackRunsWeights() throws {
        let two = pipeline(accumulation: 1, file: "two.toml")
        let loopback = try FolioProcess(ranks: 2, ["run", two, "--run-dir", folder.path + "/loopback"])
        #expect(loopback.status == 0, "\(loopback.stderr)")

        let tag = String(getpid() % 100_000)
        let (hostA, hostB) = ("folio-a-\(tag)", "folio-b-\(tag)")
        let subnet = "10.79.\(getpid() % 250)"
        let (addressA, addressB) = ("\(subnet).1", "\(subnet).2")
        let agent = folder.write("netns-rsh", """
            #!/bin/sh
            # mpirun's remote launcher: "HOST COMMAND..." runs COMMAND in HOST's namespace.
            case "$1" in \(addressA)) ns=\(hostA) ;; \(addressB)) ns=\(hostB) ;; *) echo "unknown host $1" >&2; exit 1 ;; esac
            shift
            exec ip netns exec "$ns" /bin/sh -c "$*"
            """)
        chmod(agent, 0o755)
        let setup = """
            ip netns add \(hostA) && ip netns add \(hostB) &&
            ip link add va\(tag) type veth peer name vb\(tag) &&
            ip link set va\(tag) netns \(hostA) && ip link set vb\(tag) netns \(hostB) &&
            ip -n \(hostA) addr add \(addressA)/24 dev va\(tag) && ip -n \(hostB) addr add \(addressB)/24 dev vb\(tag) &&
            ip -n \(hostA) link set va\(tag) up && ip -n \(hostB) link set vb\(tag) up &&
            ip -n \(hostA) link set lo up && ip -n \(hostB) link set lo up
            """
        defer { _ = try? FolioProcess(executable: "/bin/sh", ["-c", "ip netns del \(hostA); ip netns del \(hostB)"]) }
        let made = try FolioProcess(executable: "/bin/sh", ["-c", setup])
        #expect(made.status == 0, "\(made.stderr)")
        let network = "\(subnet).0/24"
        let run = try FolioProcess(
            executable: "/usr/sbin/ip",
            ["netns", "exec", hostA, FolioProcess.mpirun, "-np", "2", "-H", "\(addressA),\(addressB)", "--mca", "plm_rsh_agent", agent,
             "--mca", "plm_rsh_no_tree_spawn", "1", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", network,
             "--mca", "oob_tcp_if_include", network, "sh", "-c",
             "echo rank $OMPI_COMM_WORLD_RANK in $(ip netns identify) >&2; exec \(FolioProcess.executable.path) run \(two) --run-dir \(folder.path)/network"],
            environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("rank 0 in \(hostA)") && run.stderr.contains("rank 1 in \(hostB)"), "\(run.stderr)")
        #expect(try weights("network") == weights("loopback"))
    }

    /// Ranks started from another build, or with other arguments, are refused before any work.
    @Test func ranksOfAnotherBinaryOrCommandLineAreRefused() throws {
        let corpus = folder.path + "/corpus"
        let root = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
        let folio = FolioProcess.executable.path
        let vocab = { (out: String) in ["vocab", corpus, "--out", self.folder.path + "/" + out] }
        let arguments = try FolioProcess(executable: FolioProcess.mpirun,
                                         ["--oversubscribe", "-np", "1", folio] + vocab("a.tsv") + [":", "-np", "1", folio] + vocab("b.tsv"),
                                         environment: root)
        #expect(arguments.status != 0)
        #expect(arguments.stderr.contains("folio: error: rank 1 was started with other arguments than rank 0"), "\(arguments.stderr)")
        // Another build: the same program with one byte more.
        let other = folder.path + "/folio-other"
        var bytes = try Data(contentsOf: FolioProcess.executable)
        bytes.append(0)
        try bytes.write(to: URL(fileURLWithPath: other))
        chmod(other, 0o755)
        let binary = try FolioProcess(executable: FolioProcess.mpirun,
                                      ["--oversubscribe", "-np", "1", folio] + vocab("a.tsv") + [":", "-np", "1", other] + vocab("a.tsv"),
                                      environment: root)
        #expect(binary.status != 0)
        #expect(binary.stderr.contains("folio: error: rank 1 runs another folio binary than rank 0"), "\(binary.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/a.tsv"))
    }
}
