import FolioCore

/// One thread's token counts: a ``TokenCounter`` that spills to a sorted run file in a
/// ``SpillFolder`` whenever its budget is full.
public final class SpillingCounter {
    private let counter: TokenCounter
    private let spill: SpillFolder
    public private(set) var runs: [String] = []
    @exclusivity(unchecked) public private(set) var tokens = 0

    public init(budget: Int, spill: SpillFolder) {
        counter = TokenCounter(budget: budget)
        self.spill = spill
    }

    @inline(__always)
    public func add(_ token: UnsafeRawBufferPointer) throws(FolioError) {
        tokens += 1
        if counter.add(token) { return }
        try spillCounts()
        if !counter.add(token) {
            throw FolioError(
                token.count > TokenCounter.maxTokenBytes
                    ? "a \(token.count)-byte token is longer than \(TokenCounter.maxTokenBytes) bytes (set a max token length)"
                    : "a \(token.count)-byte token does not fit in the counting memory budget")
        }
    }

    private func spillCounts() throws(FolioError) {
        let writer = try CountRunWriter(path: spill.newPath())
        try counter.drainSorted { (token, count) throws(FolioError) in try writer.append(token, count) }
        try writer.finish()
        runs.append(writer.path)
    }

    /// Spills what is left; returns every run this counter wrote.
    public func finish() throws(FolioError) -> [String] {
        if counter.distinctTokens > 0 { try spillCounts() }
        return runs
    }
}
