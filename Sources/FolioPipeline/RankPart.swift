import FolioCore
import FolioCorpus

extension CorpusOptions {
    /// These options reading this rank's part of the corpus (all of it for one process).
    func part(of communicator: any Communicator) -> CorpusOptions { part(communicator.rank, of: communicator.size) }
}
