import FolioCore
import FolioMPI
import FolioShards
import Foundation

/// The ranks this process is one of: MPI's when `mpirun` (or `srun`) started it, else
/// one process, with no MPI start-up at all. The executable makes it once, before any
/// command runs, and hands it to the jobs as a setting.
enum Ranks {
    static let communicator: any Communicator = {
        guard MPICommunicator.launchedByMPI() else { return SingleProcess() }
        do throws(FolioError) {
            let communicator = try MPICommunicator()
            try refuseMismatchedRanks(communicator)
            return communicator
        } catch {
            ProcessInfoLite.printError("folio: error: \(error)")
            exit(1)
        }
    }()

    /// Every rank must run the same binary with the same arguments: a rank started from
    /// another build (a node not yet updated) or another command line is refused before any
    /// work, on every rank.
    static func refuseMismatchedRanks(_ communicator: MPICommunicator) throws(FolioError) {
        struct Identity: Codable, Equatable {
            var binary: UInt32
            var arguments: [String]
        }
        let own = Identity(binary: try CRC32C.checksum(ofFile: "/proc/self/exe"), arguments: Array(CommandLine.arguments.dropFirst()))
        let all = try communicator.allGather(own)
        if let rank = all.indices.first(where: { all[$0].binary != all[0].binary }) {
            throw FolioError("rank \(rank) runs another folio binary than rank 0 (CRC-32C \(all[rank].binary) against \(all[0].binary)): install the same build on every node")
        }
        if let rank = all.indices.first(where: { all[$0].arguments != all[0].arguments }) {
            throw FolioError("rank \(rank) was started with other arguments than rank 0: \(all[rank].arguments.joined(separator: " ")) against \(all[0].arguments.joined(separator: " "))")
        }
    }

    /// Whether this process prints results and progress (rank 0; the others only errors).
    static var prints: Bool { communicator.isWriter }

    /// After a command succeeded: a launched rank ends MPI (a failed rank exits without it,
    /// and the launcher then stops the others).
    static func finish() {
        (communicator as? MPICommunicator)?.finalize()
    }
}
