import Foundation

/// The processes of one distributed run (`mpirun -np N folio ...`) and the few collective
/// operations Folio's stages need. Passed to a stage like any other setting; the default,
/// ``SingleProcess``, makes every collective an identity, so each stage is written once
/// (DESIGN.md section 9). Every rank must make the same calls in the same order.
public protocol Communicator: AnyObject, Sendable {
    /// This process's place, `0..<size`.
    var rank: Int { get }
    var size: Int { get }
    /// Every rank's bytes, in rank order, on every rank.
    func allGather(_ bytes: [UInt8]) throws(FolioError) -> [[UInt8]]
    /// Sums `values` element-wise across ranks, in place, on every rank.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws(FolioError)
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws(FolioError)
    /// Returns once every rank has called it.
    func barrier() throws(FolioError)
    /// Sums `values` element-wise across ranks, but only this rank's part is kept: `counts`
    /// (one per rank, adding up to `values.count`) cut the buffer into consecutive parts, and
    /// afterwards the part at this rank's place holds the sums; the rest is undefined (MPI's
    /// reduce-scatter: half an allreduce's traffic).
    func reduceScatterSum(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError)
    /// The other half: every rank's part of `values` (cut by `counts` as above, each rank's
    /// own in place) on every rank.
    func allGather(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError)
}

extension Communicator {
    public var isDistributed: Bool { size > 1 }
    /// Whether this rank writes shared files and reports (rank 0, as in Horovod and DDP).
    public var isWriter: Bool { rank == 0 }

    /// Every rank's value, in rank order (as JSON: for small summaries, not tensors).
    public func allGather<Value: Codable>(_ value: Value) throws(FolioError) -> [Value] {
        let encoded: Data
        do { encoded = try JSONEncoder().encode(value) } catch { throw FolioError("rank \(rank): cannot encode \(Value.self): \(error)") }
        var values: [Value] = []
        for (rank, bytes) in try allGather([UInt8](encoded)).enumerated() {
            do { values.append(try JSONDecoder().decode(Value.self, from: Data(bytes))) } catch {
                throw FolioError("rank \(rank) sent a malformed \(Value.self): \(error)")
            }
        }
        return values
    }

    /// Correct for any transport, at an allreduce's cost: the whole buffer summed.
    public func reduceScatterSum(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError) {
        try allReduceSum(values)
    }

    /// Correct for any transport: each part as bytes through ``allGather(_:)-([UInt8])``.
    public func allGather(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError) {
        let offset = counts[..<rank].reduce(0, +)
        let own = [UInt8](UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: values[offset..<offset + counts[rank]])))
        var start = 0
        for (part, bytes) in try allGather(own).enumerated() {
            guard bytes.count == counts[part] * 4 else { throw FolioError("rank \(part) sent \(bytes.count / 4) floats where \(counts[part]) were due") }
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: values[start..<start + counts[part]])).copyMemory(from: raw)
            }
            start += counts[part]
        }
    }

    public func allReduceSum(_ values: inout [Double]) throws(FolioError) {
        try values.withUnsafeMutableBufferPointer { buffer throws(FolioError) in try allReduceSum(buffer) }
    }

    /// Runs `body` on the writing rank while the others wait, then tells every rank whether
    /// it succeeded: a failure on rank 0 becomes an error on every rank rather than a hang.
    public func onWriter<Result: Codable>(_ body: () throws(FolioError) -> Result) throws(FolioError) -> Result {
        guard isDistributed else { return try body() }
        var outcome = WriterOutcome<Result>(value: nil, failure: nil)
        var writerError: FolioError?
        if isWriter {
            do throws(FolioError) { outcome.value = try body() } catch {
                writerError = error
                outcome.failure = error.description
            }
        }
        let all = try allGather(outcome)
        if let writerError { throw writerError }
        if let failure = all[0].failure { throw FolioError("rank 0 failed: \(failure)") }
        guard let value = all[0].value else { throw FolioError("rank 0 sent no result") }
        return value
    }
}

struct WriterOutcome<Value: Codable>: Codable {
    var value: Value?
    var failure: String?
}

/// One process: rank 0 of 1, every collective an identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) {}
    public func barrier() {}
}
