import FolioCore
import FolioCorpus
import FolioShards

/// A pipeline's validation part, chosen per document before any stage reads the training
/// split: a document is held out when a hash of (a fixed seed, where it is in the corpus)
/// falls below the fraction. The vocabulary is counted, the `[embed]` vectors are trained and the
/// training shards are written without the held-out documents, which go to a shard set of
/// their own: validation figures then meet unseen words as test figures do (held out after
/// the vocabulary, a corpus of short texts in many languages validated at 0.79 and tested
/// at 53 %).
///
/// Where a document is: its path below the corpus folder, or its line in a JSONL file. The
/// same document is held out whatever the rank count, thread count or order of reading.
/// ``Holdout/yieldsHeldOut`` says which side a job keeps.
extension Holdout {
    /// A pipeline's validation documents: `fraction` of the training split, the same ones
    /// for every run over the corpus whatever its seed (as Keras's `validation_split` takes
    /// the same last part), so that a sweep's seeds and a tuner's trials compare on the same
    /// documents and share one vocabulary and one set of shards.
    ///
    /// `byGroup`: whole groups are held out (``TextChunk/group``: a document's folder below
    /// its label folder, or a JSONL key), as scikit-learn's `GroupShuffleSplit` does, so that
    /// validation meets what a test split cut by module, package or author meets: groups
    /// never trained on. A document without a group is a group of its own.
    ///
    /// `seed` (`[training] validation_seed`) picks another such part, the same for every run
    /// that names it (scikit-learn's `train_test_split(random_state=)`): repeated holdouts of
    /// a setting, each trained on the rest. Nil: Folio's fixed one.
    public static func documents(fraction: Double, keepsHeldOut: Bool, byGroup: Bool = false, seed: Int? = nil) -> Holdout {
        var holdout = Holdout(fraction: fraction, seed: seed.map { UInt64($0) } ?? 0x7661_6C69_6461_7465, yieldsHeldOut: keepsHeldOut)  // "validate"
        holdout.byGroup = byGroup ? true : nil
        return holdout
    }

    /// Whether a job over `corpusPath` keeps `chunk`'s document.
    public func keeps(_ chunk: TextChunk, corpusPath: String) -> Bool {
        isHeldOut(source: chunk.source, group: chunk.group, corpusPath: corpusPath) == yieldsHeldOut
    }

    /// `source` as a ``TextChunk`` names it: a file path, or `path:line` for JSONL; `group`
    /// its group, which decides instead when the holdout is by group.
    public func isHeldOut(source: String, group: String? = nil, corpusPath: String) -> Bool {
        var hasher = FNV1a64()
        withUnsafeBytes(of: seed.littleEndian) { hasher.combine($0) }
        if byGroup == true, let group {
            hasher.combine(group.utf8)
        } else {
            hasher.combine(source.hasPrefix(corpusPath) ? source.utf8.dropFirst(corpusPath.utf8.count) : source.utf8[...])
        }
        // FNV-1a's low bits mix poorly for short keys: a SplitMix64 step spreads them.
        var mixer = SplitMix64(seed: hasher.value)
        return Double(mixer.next() >> 11) * 0x1p-53 < fraction
    }
}
