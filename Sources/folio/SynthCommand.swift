import ArgumentParser
import FolioCore
import Foundation

/// Generated article corpora for scale tests: deterministic by seed.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a generated corpus: N articles of C classes, Zipf vocabulary, log-normal lengths.",
        discussion: """
            Each class owns 300 topic words (mid-frequency ranks); an article draws each word from its class's \
            topic words with a probability around 5% (log-normal per article), else from the Zipf background \
            (s = 1.07). Lengths are log-normal around --median-length words. Words are pseudo-words built from \
            syllables, a few with é or ü; sentences are capitalised and end with a full stop. The same seed \
            gives the same bytes.
            """
    )

    @Option(help: "Output: a .jsonl file, or a folder for the label-per-folder layout.")
    var out: String
    @Option(help: "Articles.") var articles = 100_000
    @Option(help: "Classes.") var classes = 10
    @Option(help: "Background vocabulary size.") var vocabulary = 50_000
    @Option(help: "Median article length in words.") var medianLength = 300.0
    @Option(help: "Every n-th round of the classes is in the test split (0: none).") var testEvery = 10
    @Option(help: "Random seed.") var seed: UInt64 = 1234

    func validate() throws {
        guard articles > 0, classes > 1, vocabulary >= 10_000 else {
            throw ValidationError("need articles > 0, classes > 1, vocabulary >= 10000")
        }
    }

    func run() throws {
        var random = SplitMix64(seed: seed)
        let syllables = ["ka", "to", "ri", "en", "mo", "la", "su", "ne", "pi", "do", "ar", "vé", "lü", "ton", "mer", "sal"]
        let words: [String] = (0..<vocabulary).map { rank in
            var value = rank + 1
            var word = ""
            repeat { word += syllables[value % syllables.count]; value /= syllables.count } while value > 0
            return word
        }
        // Zipf cumulative weights, for sampling by binary search.
        var cumulative = [Double](repeating: 0, count: vocabulary)
        var total = 0.0
        for rank in 0..<vocabulary {
            total += 1 / pow(Double(rank + 1), 1.07)
            cumulative[rank] = total
        }
        let topics: [[Int]] = (0..<classes).map { _ in (0..<300).map { _ in 100 + Int(random.next() % 7900) } }
        func zipf() -> Int {
            let target = random.nextUnit() * total
            var low = 0
            var high = vocabulary - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] < target { low = middle + 1 } else { high = middle }
            }
            return low
        }
        func normal() -> Double {
            let u = max(random.nextUnit(), 1e-12)
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * random.nextUnit())
        }
        let jsonl = out.hasSuffix(".jsonl")
        var file: AtomicFile? = jsonl ? try AtomicFile(path: out) : nil
        for index in 0..<articles {
            let label = index % classes
            let length = min(3000, max(20, Int(medianLength * exp(0.5 * normal()))))
            let topicShare = min(0.5, 0.05 * exp(0.8 * normal()))
            var text = ""
            text.reserveCapacity(length * 7)
            for position in 0..<length {
                let word = random.nextUnit() < topicShare ? words[topics[label][Int(random.next() % 300)]] : words[zipf()]
                if position % 15 == 0 {
                    if position > 0 { text += ". " }
                    text += word.prefix(1).uppercased() + word.dropFirst()
                } else {
                    text += (position % 7 == 3 ? ", " : " ") + word
                }
            }
            text += "."
            // Every n-th round of the classes, so that the test split holds every class
            // (every n-th article would hold only some when n and the class count share a factor).
            let split = testEvery > 0 && (index / classes) % testEvery == testEvery - 1 ? "test" : "train"
            if let file {
                try file.write("{\"id\": \(index), \"text\": \"\(text)\", \"label\": \"c\(label)\", \"split\": \"\(split)\"}\n")
            } else {
                let folder = "\(out)/\(split)/c\(label)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try text.write(toFile: "\(folder)/\(String(format: "%08d", index)).txt", atomically: false, encoding: .utf8)
            }
        }
        try file?.commit()
        file = nil
        print("\(articles) articles written to \(out)")
    }
}
