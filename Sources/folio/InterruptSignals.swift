import Dispatch
import FolioCore
import Glibc

/// SIGINT (Ctrl-C) and SIGTERM for the commands that train. The first one asks the
/// training to stop at its next optimizer-step boundary: a checkpoint, one line saying how
/// to resume, exit 130 or 143. A second one, or one that arrives while nothing listens
/// (the vocabulary and shard stages), ends the process at once as the default action
/// would; what it was writing is under temporary names that the next run removes.
final class InterruptSignals {
    let stopRequest = StopRequest()
    // Kept so that the handlers stay installed as long as the command runs.
    private let sources: [any DispatchSourceSignal]

    init() {
        let stopRequest = stopRequest
        sources = [SIGINT, SIGTERM].map { number in
            // Ignored at the C level so that only the dispatch source sees it.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if stopRequest.signal != nil || !stopRequest.request(signal: number) {
                    signal(number, SIG_DFL)
                    raise(number)
                }
            }
            source.resume()
            return source
        }
    }
}
