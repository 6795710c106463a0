import FolioCore
import FolioMPI
import Foundation

/// The ranks this process is one of: MPI's when `mpirun` (or `srun`) started it, else
/// one process, with no MPI start-up at all. The executable makes it once, before any
/// command runs, and hands it to the jobs as a setting.
enum Ranks {
    static let communicator: any Communicator = {
        guard MPICommunicator.launchedByMPI() else { return SingleProcess() }
        do throws(FolioError) {
            return try MPICommunicator()
        } catch {
            ProcessInfoLite.printError("folio: error: \(error)")
            exit(1)
        }
    }()

    /// Whether this process prints results and progress (rank 0; the others only errors).
    static var prints: Bool { communicator.isWriter }

    /// After a command succeeded: a launched rank ends MPI (a failed rank exits without it,
    /// and the launcher then stops the others).
    static func finish() {
        (communicator as? MPICommunicator)?.finalize()
    }
}
