import FolioTestSupport
import Foundation
import Testing
@testable import FolioShards

@Suite struct ShardLoaderTests {
    let folder = TemporaryFolder()
    var records: [RecordRef: ShardRecord] = [:]

    /// Three shards of random records (lengths 0-400) and a manifest.
    init() throws {
        var generator = SplitMix64(seed: 5)
        var summaries: [ShardSummary] = []
        for shard in 0..<3 {
            let writer = try ShardWriter(path: folder.path + "/shard-0000\(shard).fol", blockBytes: 2048)
            for index in 0..<(300 + shard * 50) {
                let record = ShardRecord(
                    label: UInt32(generator.next() % 4),
                    ids: (0..<Int(generator.next() % 400)).map { _ in UInt32(2 + generator.next() % 1000) })
                try writer.append(label: record.label, ids: record.ids)
                records[RecordRef(shard: UInt32(shard), record: UInt32(index))] = record
            }
            summaries.append(try writer.finish())
        }
        try ShardManifest(vocabularyFingerprint: "fnv1a64:test", vocabularySize: 1002, tokenizer: [:],
                          labels: ["a", "b", "c", "d"], shards: summaries).write(toFolder: folder.path)
    }

    func loader(_ options: LoaderOptions) throws -> ShardLoader {
        try ShardLoader(shards: try ShardSet(folder: folder.path), options: options)
    }

    func batches(_ loader: ShardLoader, epoch: Int, from state: LoaderState? = nil, limit: Int = .max) throws -> [LoaderBatch] {
        let iterator = loader.epoch(epoch, resumingFrom: state)
        var result: [LoaderBatch] = []
        while result.count < limit, let batch = try iterator.next() { result.append(batch) }
        return result
    }

    /// A small budget: many windows, so the carry-over between windows is exercised.
    var small: LoaderOptions { LoaderOptions(batchSize: 7, maxLength: 250, memoryBudget: 1 << 17, prefetch: 2) }

    @Test func everyRecordOncePerEpochWithItsLabelAndTruncatedIds() throws {
        let loader = try loader(small)
        #expect(Array(loader.plan(epoch: 0)).count > 3, "the budget must split the epoch into windows")
        let epoch = try batches(loader, epoch: 0)
        let seen = epoch.flatMap(\.records)
        #expect(seen.count == records.count)
        #expect(Set(seen) == Set(records.keys))
        for batch in epoch {
            #expect(batch.length == 250 && batch.ids.count == batch.rows * 250)
            for row in 0..<batch.rows {
                let record = records[batch.records[row]]!
                let kept = Array(record.ids.prefix(250))
                #expect(batch.labels[row] == record.label)
                #expect(Int(batch.lengths[row]) == kept.count)
                #expect(Array(batch.ids[row * 250..<row * 250 + kept.count]) == kept)
                #expect(batch.ids[(row * 250 + kept.count)..<((row + 1) * 250)].allSatisfy { $0 == 0 })
            }
        }
        #expect(epoch.dropLast().allSatisfy { $0.rows == 7 })
    }

    @Test func sameSeedSameOrderOtherEpochOrSeedAnotherOrder() throws {
        let first = try batches(loader(small), epoch: 0).flatMap(\.records)
        #expect(first == (try batches(loader(small), epoch: 0).flatMap(\.records)))
        #expect(first != (try batches(loader(small), epoch: 1).flatMap(\.records)))
        var reseeded = small
        reseeded.seed = 99
        #expect(first != (try batches(loader(reseeded), epoch: 0).flatMap(\.records)))
    }

    @Test(arguments: [0, 1, 5, 23, 60, 100, 139])
    func resumingGivesExactlyTheRemainingBatches(after done: Int) throws {
        let whole = try batches(loader(small), epoch: 2)
        let iterator = try loader(small).epoch(2)
        for _ in 0..<done { _ = try iterator.next() }
        let state = iterator.state
        #expect(state == LoaderState(epoch: 2, batchesDone: done))
        let rest = try batches(loader(small), epoch: 2, from: state)
        // Booleans, so that a failure does not print every id.
        let sameRecords = rest.map(\.records) == whole.dropFirst(done).map(\.records)
        let sameIDs = rest.map(\.ids) == whole.dropFirst(done).map(\.ids)
        #expect(sameRecords)
        #expect(sameIDs)
        #expect(rest.count == whole.count - done)
    }

    @Test func partitionsAreDisjointAndCoverTheEpoch() throws {
        var parts: [Set<RecordRef>] = []
        for rank in 0..<3 {
            var options = small
            options.rank = rank
            options.worldSize = 3
            parts.append(Set(try batches(loader(options), epoch: 4).flatMap(\.records)))
        }
        #expect(parts.allSatisfy { !$0.isEmpty })
        #expect(parts[0].isDisjoint(with: parts[1]) && parts[0].isDisjoint(with: parts[2]) && parts[1].isDisjoint(with: parts[2]))
        #expect(parts[0].union(parts[1]).union(parts[2]) == Set(records.keys))
        #expect(throws: FolioError.self) { try loader(LoaderOptions(rank: 3, worldSize: 3)) }
    }

    /// N ranks taking turns at k batches see the plan of one rank accumulating N x k, each
    /// its own turns, in order, also where a turn runs across an epoch's end; resuming from
    /// a plan position gives a rank the rest of its batches. With and without bucketing
    /// (which groups a step's batches).
    @Test(arguments: [(2, 1, false), (2, 3, false), (3, 2, false), (2, 1, true), (3, 2, true)])
    func ranksTakeTurnsAtTheOneRankPlan(ranks: Int, group: Int, bucketing: Bool) throws {
        var base = small
        base.bucketing = bucketing
        var one = base
        one.groupSize = ranks * group
        let whole = try loader(one)
        let perEpoch = whole.batchesPerEpoch
        for epoch in [0, 1] {
            let plan = try batches(whole, epoch: epoch).map(\.records)
            #expect(plan.count == perEpoch)
            for rank in 0..<ranks {
                var options = base
                (options.rank, options.worldSize, options.groupSize) = (rank, ranks, group)
                let part = try loader(options)
                let expected = plan.indices.filter { ((epoch * perEpoch + $0) / group) % ranks == rank }
                let own = try batches(part, epoch: epoch).map(\.records)
                #expect(own == expected.map { plan[$0] }, "rank \(rank) epoch \(epoch)")
                let position = perEpoch / 2
                let rest = try batches(part, epoch: epoch, from: LoaderState(epoch: epoch, batchesDone: position)).map(\.records)
                #expect(rest == expected.filter { $0 >= position }.map { plan[$0] })
            }
        }
    }

    /// With bucketing, the batches of one optimizer step are neighbours in length order:
    /// within a window every whole step's batches are consecutive once the window's batches
    /// are sorted, so ranks meeting at the step's reduction carry about equal work. Steps
    /// are counted from the run's start (epoch 1 starts mid-step when the epoch's batch
    /// count is odd); only the steps a window boundary cuts may mix lengths.
    @Test(arguments: [2, 3])
    func bucketingKeepsAStepsBatchesTogether(stepBatches: Int) throws {
        var options = LoaderOptions(batchSize: 4, maxLength: 400, padding: .longest, bucketing: true, memoryBudget: 1 << 30)
        options.groupSize = stepBatches
        let loader = try loader(options)
        let perEpoch = loader.batchesPerEpoch
        #expect(perEpoch % stepBatches != 0, "the epochs must not be whole steps")
        for epoch in [0, 1] {
            let epochBatches = try batches(loader, epoch: epoch)
            // One window: the last batch is the short remainder. A batch's place in length
            // order is (shortest, longest record); a step is together when no other batch
            // lies strictly between its first and last place (equal places are ties).
            let keys = epochBatches.dropLast().map { [Int($0.lengths.min()!), Int($0.lengths.max()!)] }
            let steps = Dictionary(grouping: keys.indices) { (epoch * perEpoch + $0) / stepBatches }.values.filter { $0.count == stepBatches }
            let together = steps.filter { step in
                let low = step.map { keys[$0] }.min { $0.lexicographicallyPrecedes($1) }!
                let high = step.map { keys[$0] }.max { $0.lexicographicallyPrecedes($1) }!
                return !keys.indices.contains { !step.contains($0) && low.lexicographicallyPrecedes(keys[$0]) && keys[$0].lexicographicallyPrecedes(high) }
            }
            #expect(together.count >= steps.count - 1, "epoch \(epoch): \(together.count) of \(steps.count) steps")
            #expect(steps.count > 10)
        }
        // A plain shuffle would scatter them: the same check on one batch per step's plan.
        options.groupSize = 1
        let plain = try batches(try self.loader(options), epoch: 0).dropLast().map { [Int($0.lengths.min()!), Int($0.lengths.max()!)] }
        let pairs = stride(from: 0, to: plain.count - 1, by: 2).filter { index in
            let (low, high) = plain[index].lexicographicallyPrecedes(plain[index + 1]) ? (plain[index], plain[index + 1]) : (plain[index + 1], plain[index])
            return !plain.contains { low.lexicographicallyPrecedes($0) && $0.lexicographicallyPrecedes(high) }
        }
        #expect(pairs.count < plain.count / 8, "\(pairs.count) of \(plain.count / 2) pairs together")
    }

    @Test func bucketingCutsPadding() throws {
        var plain = small
        plain.padding = .longest
        var bucketed = plain
        bucketed.bucketing = true
        let mean = { (batches: [LoaderBatch]) in
            batches.reduce(0.0) { $0 + $1.paddingFraction * Double($1.ids.count) } / Double(batches.reduce(0) { $0 + $1.ids.count })
        }
        let withoutBuckets = mean(try batches(loader(plain), epoch: 0))
        let withBuckets = try batches(loader(bucketed), epoch: 0)
        #expect(mean(withBuckets) < withoutBuckets / 2, "\(mean(withBuckets)) vs \(withoutBuckets)")
        #expect(Set(withBuckets.flatMap(\.records)) == Set(records.keys))
    }

    @Test func dropRemainderGivesOnlyFullBatches() throws {
        var options = small
        options.dropRemainder = true
        let epoch = try batches(loader(options), epoch: 0)
        #expect(epoch.allSatisfy { $0.rows == 7 })
        #expect(epoch.count == records.count / 7)
    }

    @Test func aCorruptBlockStopsTheEpochWithItsPlace() throws {
        let path = folder.path + "/shard-00001.fol"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try ShardReader(path: path)
        bytes[Int(reader.blocks[3].offset) + 5] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try batches(loader(small), epoch: 0)
            Issue.record("the corrupt block went unnoticed")
        } catch let error as FolioError {
            #expect(error.file == path && error.place == "block 3")
        }
    }
}
