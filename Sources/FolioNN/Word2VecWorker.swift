import FolioCore

/// One thread of ``Word2Vec``: its scratch buffers, and in the deterministic mode its own
/// copies of the rows it touched this round.
///
/// Row copies live in pages of 256 rows allocated on first need and kept for later rounds,
/// so pointers to them stay valid while the round runs and a round allocates nothing once
/// the pages exist. `slots` maps a row (input rows first, then output rows) to its copy.
final class Word2VecWorker: @unchecked Sendable {
    let overlay: Bool
    let rows: Int
    let dim: Int
    let options: Word2VecOptions
    private let slots: UnsafeMutablePointer<Int32>
    private let touched: UnsafeMutablePointer<Int32>
    private var touchedCount = 0
    private let pages: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let pageCount: Int
    private static let pageShift = 8
    private static let pageMask = (1 << pageShift) - 1
    private let sentence: UnsafeMutablePointer<Int32>
    private let gradient: UnsafeMutablePointer<Float>
    private let mean: UnsafeMutablePointer<Float>
    private let targets: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let contexts: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private var trained = 0

    init(rows: Int, dim: Int, overlay: Bool, options: Word2VecOptions) {
        self.rows = rows
        self.dim = dim
        self.overlay = overlay
        self.options = options
        let indices = overlay ? 2 * rows : 0
        slots = .allocate(capacity: max(1, indices))
        slots.initialize(repeating: -1, count: max(1, indices))
        touched = .allocate(capacity: max(1, indices))
        pageCount = (indices + Self.pageMask) >> Self.pageShift
        pages = .allocate(capacity: max(1, pageCount))
        pages.initialize(repeating: nil, count: max(1, pageCount))
        sentence = .allocate(capacity: options.maxSentenceLength)
        gradient = .allocate(capacity: dim)
        mean = .allocate(capacity: dim)
        targets = .allocate(capacity: options.negative + 1)
        contexts = .allocate(capacity: 2 * options.window)
    }

    deinit {
        for page in 0..<pageCount { pages[page]?.deallocate() }
        for buffer in [slots, touched] as [UnsafeMutablePointer<Int32>] { buffer.deallocate() }
        pages.deallocate()
        sentence.deallocate()
        gradient.deallocate()
        mean.deallocate()
        targets.deallocate()
        contexts.deallocate()
    }

    /// Row `row` of the input (`matrix` 0) or output (1) vectors, as this thread sees it.
    @inline(__always)
    private func row(_ matrix: Int, _ row: Int32, _ model: Word2VecModel) -> UnsafeMutablePointer<Float> {
        let shared = (matrix == 0 ? model.input : model.output) + Int(row) * dim
        guard overlay else { return shared }
        let index = matrix * rows + Int(row)
        let slot = Int(slots[index])
        if slot >= 0 { return pages[slot >> Self.pageShift].unsafelyUnwrapped + (slot & Self.pageMask) * dim }
        return firstTouch(index, shared: shared)
    }

    /// Out of line: a row's first touch in a round copies it (most touches find the copy).
    @inline(never)
    private func firstTouch(_ index: Int, shared: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let slot = touchedCount
        touchedCount += 1
        touched[slot] = Int32(index)
        slots[index] = Int32(slot)
        let page = slot >> Self.pageShift
        if pages[page] == nil { pages[page] = .allocate(capacity: (Self.pageMask + 1) * dim) }
        let copy = pages[page].unsafelyUnwrapped + (slot & Self.pageMask) * dim
        copy.update(from: shared, count: dim)
        return copy
    }

    /// Trains on one slice: subsampling, then every position's window.
    ///
    /// The hot loop. Skip-gram: each word's input row against each context word's output
    /// row and `negative` noise rows, the input row stepping after each context word (as
    /// fastText does). CBOW: the mean of the context rows against the word's output row
    /// and the noise rows; each context row then steps by its share of the mean's
    /// gradient (gensim's `cbow_mean`). A noise word equal to the true one is skipped, as
    /// in word2vec.
    func train(_ slice: Word2VecSlice, model: Word2VecModel, rate: Float, random: inout SplitMix64) {
        let (window, negative, dim, kernels) = (options.window, options.negative, dim, model.kernels)
        let skipgram = options.model == .skipgram
        slice.rows.withUnsafeBufferPointer { rows in
            model.keepThresholds.withUnsafeBufferPointer { keep in
                var start = 0
                for end in slice.sentenceEnds {
                    var n = 0
                    for k in start..<end {
                        let word = rows[k], threshold = keep[Int(word)]
                        if threshold > 0xFFFF_FFFF || random.next() & 0xFFFF_FFFF < threshold {
                            sentence[n] = word
                            n += 1
                        }
                    }
                    start = end
                    trained += n
                    for i in 0..<n {
                        let span = window - Int(random.next() % UInt64(window))
                        let (low, high) = (max(0, i - span), min(n - 1, i + span))
                        if skipgram {
                            let center = row(0, sentence[i], model)
                            for j in low...high where j != i {
                                let count = drawTargets(for: sentence[j], negative: negative, model: model, random: &random)
                                kernels.negativeSampling(input: center, rows: targets, count: count, dim: dim, rate: rate, gradient: gradient)
                                kernels.addScaled(center, gradient, 1, count: dim)
                            }
                        } else {
                            var contextCount = 0
                            mean.update(repeating: 0, count: dim)
                            for j in low...high where j != i {
                                let context = row(0, sentence[j], model)
                                contexts[contextCount] = context
                                contextCount += 1
                                kernels.addScaled(mean, context, 1, count: dim)
                            }
                            if contextCount == 0 { continue }
                            let share = 1 / Float(contextCount)
                            for d in 0..<dim { mean[d] *= share }
                            let count = drawTargets(for: sentence[i], negative: negative, model: model, random: &random)
                            kernels.negativeSampling(input: mean, rows: targets, count: count, dim: dim, rate: rate, gradient: gradient)
                            for c in 0..<contextCount { kernels.addScaled(contexts[c], gradient, share, count: dim) }
                        }
                    }
                }
            }
        }
        if overlay { turnCopiesIntoChanges(model) }
    }

    /// The output rows of one update into `targets`: the true word's first, then
    /// `negative` noise words' (a draw of the true word is skipped). Returns their count.
    @inline(__always)
    private func drawTargets(for word: Int32, negative: Int, model: Word2VecModel, random: inout SplitMix64) -> Int {
        targets[0] = row(1, word, model)
        var count = 1
        for _ in 0..<negative {
            let noise = Int32(model.noise.sample(random.next()))
            if noise == word { continue }
            targets[count] = row(1, noise, model)
            count += 1
        }
        return count
    }

    /// copy − shared, for every row touched: the shared rows do not change until the
    /// merge, so this is exactly what the thread did to each row.
    private func turnCopiesIntoChanges(_ model: Word2VecModel) {
        for slot in 0..<touchedCount {
            let copy = pages[slot >> Self.pageShift].unsafelyUnwrapped + (slot & Self.pageMask) * dim
            model.kernels.addScaled(copy, shared(Int(touched[slot]), model), -1, count: dim)
        }
    }

    private func shared(_ index: Int, _ model: Word2VecModel) -> UnsafeMutablePointer<Float> {
        index < rows ? model.input + index * dim : model.output + (index - rows) * dim
    }

    /// Adds this thread's changes to the shared rows that `owner` owns (index mod owners).
    func addChanges(to model: Word2VecModel, owner: Int, owners: Int) {
        for slot in 0..<touchedCount where Int(touched[slot]) % owners == owner {
            let change = pages[slot >> Self.pageShift].unsafelyUnwrapped + (slot & Self.pageMask) * dim
            model.kernels.addScaled(shared(Int(touched[slot]), model), change, 1, count: dim)
        }
    }

    /// Forgets the round's copies (the pages stay for the next round).
    func reset() {
        for slot in 0..<touchedCount { slots[Int(touched[slot])] = -1 }
        touchedCount = 0
    }

    /// Words trained on since the last call.
    func takeTrained() -> Int {
        defer { trained = 0 }
        return trained
    }
}
