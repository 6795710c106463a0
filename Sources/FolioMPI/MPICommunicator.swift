import CMPI
import FolioCore
import Foundation

/// The ranks of `mpirun -np N folio ...` (or Slurm's `srun`), over Open MPI's
/// `MPI_COMM_WORLD`. Made once per process, by the executable, only when a launcher
/// started it (``launchedByMPI``): a plain `folio` never initializes MPI.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int

    /// Whether this process was started by an MPI launcher: Open MPI's `mpirun` sets
    /// `OMPI_COMM_WORLD_SIZE`, a PMIx or PMI launcher (Slurm's `srun`) `PMIX_RANK` or `PMI_SIZE`.
    public static func launchedByMPI(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// Initializes MPI (once per process: MPI cannot be initialized again after finalize).
    public init() throws(FolioError) {
        let status = folio_mpi_init()
        guard status == MPI_SUCCESS else { throw FolioError("cannot start MPI: \(Self.message(status))") }
        rank = Int(folio_mpi_rank())
        size = Int(folio_mpi_size())
    }

    /// Ends MPI; the last call of a rank that finished its work.
    public func finalize() { _ = folio_mpi_finalize() }

    /// Stops every rank of the job (a rank that cannot go on, so that the others do not
    /// wait for it in a collective forever).
    public func abort(code: Int32) -> Never {
        _ = folio_mpi_abort(code)
        exit(code)
    }

    static func message(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        folio_mpi_error_string(status, &text, Int32(text.count))
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return message.isEmpty ? "MPI error \(status)" : message
    }

    private func check(_ status: Int32, _ operation: String) throws(FolioError) {
        guard status != MPI_SUCCESS else { return }
        throw FolioError("rank \(rank): \(operation) failed: \(Self.message(status))")
    }

    public func allGather(_ bytes: [UInt8]) throws(FolioError) -> [[UInt8]] {
        var counts = [Int64](repeating: 0, count: size)
        try check(folio_mpi_allgather_int64(Int64(bytes.count), &counts), "allgather of sizes")
        guard counts.allSatisfy({ $0 <= Int64(Int32.max) }), counts.reduce(0, +) <= Int64(Int32.max) else {
            throw FolioError("rank \(rank): allgather of \(counts.reduce(0, +)) bytes is more than MPI's 2 GiB count")
        }
        let counts32 = counts.map { Int32($0) }
        var offsets = [Int32](repeating: 0, count: size)
        for index in 1..<max(1, size) { offsets[index] = offsets[index - 1] + counts32[index - 1] }
        var all = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
        let status = bytes.withUnsafeBytes { own in
            all.withUnsafeMutableBytes { folio_mpi_allgatherv_bytes(own.baseAddress, Int32(own.count), $0.baseAddress, counts32, offsets) }
        }
        try check(status, "allgather")
        return (0..<size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts32[$0])]) }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws(FolioError) {
        try inPieces(values) { folio_mpi_allreduce_sum_float($0, $1) }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws(FolioError) {
        try inPieces(values) { folio_mpi_allreduce_sum_double($0, $1) }
    }

    /// MPI counts are Int32: a larger buffer goes in pieces.
    private func inPieces<Element>(
        _ values: UnsafeMutableBufferPointer<Element>, _ reduce: (UnsafeMutablePointer<Element>, Int32) -> Int32
    ) throws(FolioError) {
        guard let base = values.baseAddress else { return }
        var start = 0
        while start < values.count {
            let count = min(values.count - start, Int(Int32.max))
            try check(reduce(base + start, Int32(count)), "allreduce")
            start += count
        }
    }

    public func barrier() throws(FolioError) { try check(folio_mpi_barrier(), "barrier") }

    public func reduceScatterSum(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError) {
        let counts32 = try int32Counts(counts, of: values, "reduce-scatter")
        guard let base = values.baseAddress else { return }
        try check(folio_mpi_reduce_scatter_sum_float(base, counts32), "reduce-scatter")
        // MPI leaves this rank's sums at the buffer's start; move them to the rank's part.
        let offset = counts[..<rank].reduce(0, +)
        if offset > 0 { memmove(base + offset, base, counts[rank] * MemoryLayout<Float>.stride) }
    }

    public func allGather(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError) {
        let counts32 = try int32Counts(counts, of: values, "allgather")
        guard let base = values.baseAddress else { return }
        var offsets = [Int32](repeating: 0, count: size)
        for index in 1..<max(1, size) { offsets[index] = offsets[index - 1] + counts32[index - 1] }
        try check(folio_mpi_allgatherv_float_in_place(base, counts32, offsets), "allgather")
    }

    /// Parts of a collective as MPI's Int32 counts (a buffer over 2^31 floats is refused).
    private func int32Counts(_ counts: [Int], of values: UnsafeMutableBufferPointer<Float>, _ operation: String) throws(FolioError) -> [Int32] {
        guard counts.count == size, counts.reduce(0, +) == values.count, values.count <= Int(Int32.max) else {
            throw FolioError("rank \(rank): \(operation) of \(values.count) floats in parts \(counts) does not fit MPI's counts")
        }
        return counts.map { Int32($0) }
    }
}
