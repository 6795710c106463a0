import Dispatch
import FolioCore

/// Settings of ``Word2Vec``; the defaults are word2vec's and gensim's but for `subsample`
/// (1e-4, which suits corpora of millions of words better than word2vec's 1e-3).
public struct Word2VecOptions: Sendable, Hashable, Codable {
    public enum Architecture: String, Sendable, Hashable, Codable, CaseIterable {
        /// Each word predicts the words around it.
        case skipgram
        /// The mean of the words around a word predicts it.
        case cbow
    }

    public var model = Architecture.skipgram
    public var dim = 100
    /// The largest distance to a context word; each position draws its own window in
    /// `1...window`, as word2vec does, so near words weigh more.
    public var window = 5
    /// Noise words per true word.
    public var negative = 5
    public var epochs = 5
    /// Words seen fewer times get no vector and are dropped from the text.
    public var minCount = 5
    /// Frequent-word subsampling threshold `t` (0: none): see ``Word2Vec/keepProbability(count:total:subsample:)``.
    public var subsample = 1e-4
    /// The starting learning rate, decayed linearly to 1/10 000 of it; nil: word2vec's
    /// (0.025 for skip-gram, 0.05 for CBOW).
    public var learningRate: Double?
    public var threads = 2
    public var seed: UInt64 = 1
    /// Lock-free updates (Hogwild, as word2vec, gensim and fastText do): faster, but the
    /// vectors then depend on how the threads happened to interleave.
    public var hogwild = false
    /// Words each thread trains on between merges (the deterministic mode's rounds).
    public var roundWords = 65_536
    /// Sentences longer than this are cut (word2vec's MAX_SENTENCE_LENGTH).
    public var maxSentenceLength = 1000

    public init() {}

    public var startingLearningRate: Double { learningRate ?? (model == .skipgram ? 0.025 : 0.05) }
}

/// What ``Word2Vec`` has done so far.
public struct Word2VecProgress: Sendable {
    public var epoch: Int
    /// Tokens read, every epoch so far, before dropping rare and subsampled words.
    public var wordsRead: Int
    /// Words trained on (after dropping and subsampling).
    public var wordsTrained: Int
    public var learningRate: Double
}

/// Word vectors by word2vec with negative sampling (Mikolov et al. 2013): skip-gram or
/// CBOW, the unigram^0.75 noise distribution (``NoiseDistribution``), frequent-word
/// subsampling, a learning rate decayed linearly over all epochs.
///
/// Text arrives as token-id records (``add(_:)``), one epoch at a time (``finishEpoch()``),
/// so a corpus of any size streams through; memory is the two `[words, dim]` matrices plus
/// per thread a round of text and the rows it touched.
///
/// **Deterministic by default**, for a seed and a thread count: the text is dealt in
/// rounds, `roundWords` words to each thread. During a round a thread reads the shared
/// matrices but writes only its own copies of the rows it touches (copied on first touch);
/// at the round's end the threads' changes are added to the shared rows, every row by one
/// owner thread, the threads' changes in thread order. So no result depends on timing.
/// With one thread, or `hogwild`, threads write the shared rows directly, as word2vec does.
public final class Word2Vec {
    public let options: Word2VecOptions
    public let kernels: KernelSet
    /// The vocabulary id of each row: the words with a vector, in id order.
    public let words: [UInt32]
    /// Row of each vocabulary id; -1: no vector (<pad>, <oov>, rare words).
    let rowOf: [Int32]
    /// Per row: keep the word when 32 random bits fall below this (2^32: always).
    let keepThresholds: [UInt64]
    let noise: NoiseDistribution
    public let dim: Int
    /// `[words, dim]`: the word vectors (word2vec's syn0).
    public let input: UnsafeMutableBufferPointer<Float>
    /// `[words, dim]`: the output (context) vectors (word2vec's syn1neg).
    public let output: UnsafeMutableBufferPointer<Float>
    /// Tokens one epoch reads, for the learning rate's decay.
    let tokensPerEpoch: Int
    private let workers: [Word2VecWorker]
    private var slices: [Word2VecSlice]
    private var filling = 0
    private var epoch = 0
    private var round = 0
    public private(set) var wordsRead = 0
    public private(set) var wordsTrained = 0
    /// Called after every round.
    public var onRound: ((Word2VecProgress) -> Void)?

    /// - Parameters:
    ///   - counts: each vocabulary id's count (ids 0 and 1, `<pad>` and `<oov>`, never get
    ///     a vector); they size the noise distribution and the subsampling.
    ///   - tokensPerEpoch: tokens ``add(_:)`` will be given per epoch (all of them,
    ///     dropped ones too), for the learning rate's decay.
    public init(counts: [Int], tokensPerEpoch: Int, options: Word2VecOptions, kernels: KernelSet = .selected) throws(FolioError) {
        guard options.dim >= 1, options.window >= 1, options.negative >= 1, options.epochs >= 1, options.minCount >= 1,
              options.threads >= 1, options.roundWords >= 1, options.maxSentenceLength >= 2, options.subsample >= 0
        else { throw FolioError("word2vec: dim, window, negative, epochs, min_count, threads must be at least 1 and subsample not negative") }
        self.options = options
        self.kernels = kernels
        dim = options.dim
        var rowOf = [Int32](repeating: -1, count: counts.count)
        var words: [UInt32] = []
        for (id, count) in counts.enumerated() where id >= 2 && count >= options.minCount {
            rowOf[id] = Int32(words.count)
            words.append(UInt32(id))
        }
        guard !words.isEmpty else {
            throw FolioError("word2vec: no word is seen \(options.minCount) times or more (lower min_count)")
        }
        self.rowOf = rowOf
        self.words = words
        let rowCounts = words.map { counts[Int($0)] }
        let total = rowCounts.reduce(0, +)
        keepThresholds = rowCounts.map { count in
            UInt64((Self.keepProbability(count: count, total: total, subsample: options.subsample) * 4_294_967_296).rounded(.down))
        }
        noise = NoiseDistribution(counts: rowCounts)
        self.tokensPerEpoch = max(1, tokensPerEpoch)
        input = .allocate(capacity: words.count * dim)
        output = .allocate(capacity: words.count * dim)
        HugePages.advise(input)  // rows of both are read and written at random
        HugePages.advise(output)
        output.initialize(repeating: 0)
        // word2vec's start: input rows uniform in [-0.5, 0.5) / dim, output rows zero.
        var random = SplitMix64(seed: options.seed ^ 0x7779_6F72_6432_7665)
        for index in input.indices { input[index] = (Float(random.nextUnit()) - 0.5) / Float(dim) }
        let threads = options.threads
        let overlays = threads > 1 && !options.hogwild
        workers = (0..<threads).map { _ in Word2VecWorker(rows: words.count, dim: options.dim, overlay: overlays, options: options) }
        slices = Array(repeating: Word2VecSlice(), count: threads)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// word2vec's probability of keeping a word seen `count` times out of `total`:
    /// `(sqrt(c / (t·T)) + 1) · t·T / c`, at most 1 (gensim's too; `t` = `subsample`, 0: 1).
    public static func keepProbability(count: Int, total: Int, subsample: Double) -> Double {
        guard subsample > 0, count > 0 else { return 1 }
        let threshold = subsample * Double(total)
        return min(1, ((Double(count) / threshold).squareRoot() + 1) * threshold / Double(count))
    }

    /// The learning rate after `wordsRead` tokens: linear from the start to 1/10 000 of it
    /// over all epochs.
    func learningRate(after wordsRead: Int) -> Float {
        let start = options.startingLearningRate
        let left = 1 - Double(wordsRead) / Double(options.epochs * tokensPerEpoch + 1)
        return Float(max(start * 1e-4, start * left))
    }

    /// One record (a document's token ids) of the current epoch; trains a round whenever
    /// every thread's share is full.
    public func add(_ ids: UnsafeBufferPointer<UInt32>) {
        var slice = slices[filling]
        slices[filling] = Word2VecSlice()
        var length = 0
        for id in ids {
            slice.wordsRead += 1
            let row = Int(id) < rowOf.count ? rowOf[Int(id)] : -1
            guard row >= 0 else { continue }
            slice.rows.append(row)
            length += 1
            if length == options.maxSentenceLength {
                slice.sentenceEnds.append(slice.rows.count)
                length = 0
            }
        }
        if length > 0 { slice.sentenceEnds.append(slice.rows.count) }
        let full = slice.rows.count >= options.roundWords
        slices[filling] = slice
        if full {
            filling += 1
            if filling == slices.count { trainRound() }
        }
    }

    public func add(_ ids: [UInt32]) { ids.withUnsafeBufferPointer { add($0) } }

    /// Trains what is left of the epoch and starts the next.
    public func finishEpoch() {
        if slices.contains(where: { $0.wordsRead > 0 }) { trainRound() }
        epoch += 1
        round = 0
    }

    /// The rows of a round, each thread on its own slice; then, in the deterministic mode,
    /// the merge.
    private func trainRound() {
        let rate = learningRate(after: wordsRead)
        let (workers, slices, epoch, round, seed) = (workers, slices, epoch, round, options.seed)
        let model = Word2VecModel(
            input: input.baseAddress!, output: output.baseAddress!, rows: words.count, dim: dim, keepThresholds: keepThresholds,
            noise: noise, kernels: kernels)
        DispatchQueue.concurrentPerform(iterations: workers.count) { thread in
            var random = SplitMix64(seed: Word2Vec.stream(seed, UInt64(epoch), UInt64(round), UInt64(thread)))
            workers[thread].train(slices[thread], model: model, rate: rate, random: &random)
        }
        if workers[0].overlay {
            DispatchQueue.concurrentPerform(iterations: workers.count) { owner in
                for worker in workers { worker.addChanges(to: model, owner: owner, owners: workers.count) }
            }
            for worker in workers { worker.reset() }
        }
        wordsRead += slices.reduce(0) { $0 + $1.wordsRead }
        wordsTrained += workers.reduce(0) { $0 + $1.takeTrained() }
        self.slices = Array(repeating: Word2VecSlice(), count: workers.count)
        filling = 0
        self.round += 1
        onRound?(Word2VecProgress(epoch: epoch, wordsRead: wordsRead, wordsTrained: wordsTrained, learningRate: Double(rate)))
    }

    /// A generator seed for one thread's round, from the run's seed.
    static func stream(_ parts: UInt64...) -> UInt64 {
        var mixer = SplitMix64(seed: 0x6E65_6761_7469_7665)
        for part in parts { mixer = SplitMix64(seed: mixer.next() ^ part) }
        return mixer.next()
    }

    /// The word vectors of rows, `[words.count, dim]` row-major.
    public func vectors() -> [Float] { Array(input) }
}

/// One thread's share of a round: word rows, sentences cut at `sentenceEnds`.
struct Word2VecSlice: Sendable {
    var rows: [Int32] = []
    var sentenceEnds: [Int] = []
    var wordsRead = 0
}

/// The shared state a round's threads read (and, in Hogwild mode, write).
struct Word2VecModel: @unchecked Sendable {
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let rows: Int
    let dim: Int
    let keepThresholds: [UInt64]
    let noise: NoiseDistribution
    let kernels: KernelSet
}
