import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

@Suite struct LossTests {
    let fixture: NNFixture
    init() throws { fixture = try NNFixture("losses") }

    func check(_ loss: Loss, output: Tensor, targets: [Float], key: String) throws {
        let (value, gradient) = try loss.evaluate(output, targets: targets)
        let expected = fixture.json[key] as! [String: Any]
        #expect(abs(value - (expected["loss"] as! Double)) < 1e-6, "\(key) loss \(value)")
        expectClose(gradient.values, (expected["gradient"] as! [Double]).map(Float.init), 1e-6, "\(key) gradient")
    }

    @Test func matchPyTorch() throws {
        try check(.categoricalCrossentropy(labelSmoothing: 0.1), output: Tensor(shape: [6, 4], values: fixture.floats("logits")),
                  targets: fixture.floats("onehot"), key: "categorical_smoothing")
        try check(.binaryCrossentropy(fromLogits: true), output: Tensor(shape: [8], values: fixture.floats("binary_logits")),
                  targets: fixture.floats("binary_targets"), key: "binary_from_logits")
        try check(.binaryCrossentropy(fromLogits: false), output: Tensor(shape: [8], values: fixture.floats("binary_probabilities")),
                  targets: fixture.floats("binary_targets"), key: "binary_from_probabilities")
        try check(.meanSquaredError, output: Tensor(shape: [5, 3], values: fixture.floats("mse_prediction")),
                  targets: fixture.floats("mse_target"), key: "mse")
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let logits = Tensor(shape: [6, 4], values: fixture.floats("logits"))
        let targets = fixture.floats("onehot")
        for loss in [Loss.categoricalCrossentropy(labelSmoothing: 0.2), .binaryCrossentropy(fromLogits: true), .meanSquaredError] {
            let (_, gradient) = try loss.evaluate(logits, targets: targets)
            for index in [0, 5, 11, 23] {
                var up = logits, down = logits
                up.values[index] += 1e-2
                down.values[index] -= 1e-2
                let numeric = (try loss.evaluate(up, targets: targets).0 - loss.evaluate(down, targets: targets).0) / 2e-2
                #expect(abs(numeric - Double(gradient.values[index])) < 1e-4, "\(loss) at \(index)")
            }
        }
    }

    @Test func wrongTargetCountAndHugeLogits() throws {
        #expect(throws: FolioError.self) { try Loss.meanSquaredError.evaluate(Tensor(zeros: [2, 2]), targets: [1]) }
        let (loss, _) = try Loss.binaryCrossentropy(fromLogits: true).evaluate(Tensor(shape: [2], values: [1000, -1000]), targets: [1, 0])
        #expect(loss == 0)
    }
}

@Suite struct MetricTests {
    @Test func reportMatchesScikitLearn() throws {
        let fixture = try NNFixture("metrics")
        let actual = (fixture.json["actual"] as! [Double]).map { Int($0) }
        let predicted = (fixture.json["predicted"] as! [Double]).map { Int($0) }
        let report = ClassificationReport(actual: actual, predicted: predicted, classes: 5)
        #expect(abs(report.accuracy - (fixture.json["accuracy"] as! Double)) < 1e-12)
        #expect(abs(report.macroF1 - (fixture.json["macro_f1"] as! Double)) < 1e-12)
        for key in ["precision", "recall", "f1"] {
            let expected = fixture.json[key] as! [Double]
            let found = key == "precision" ? report.precision : key == "recall" ? report.recall : report.f1
            #expect(zip(found, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(key)")
        }
        #expect(report.support == (fixture.json["support"] as! [Double]).map { Int($0) })
        #expect(report.confusion == (fixture.json["confusion"] as! [Any]).map { ($0 as! [Double]).map { Int($0) } })
        let scores = Tensor(shape: [12, 5], values: fixture.floats("scores"))
        let labels = actual.map { UInt32($0) }
        #expect(abs(Metrics.topK(scores, labels: labels, k: 2) - (fixture.json["top2"] as! Double)) < 1e-12)
        #expect(abs(Metrics.topK(scores, labels: labels, k: 3) - (fixture.json["top3"] as! Double)) < 1e-12)
    }

    /// The Keras pitfall: one sigmoid output per row must be thresholded, not arg-maxed
    /// (arg-max over one column is always 0, which would give the share of 0 labels).
    @Test func accuracyFollowsTheLoss() {
        let probabilities = Tensor(shape: [4, 1], values: [0.9, 0.2, 0.6, 0.4])
        let targets: [Float] = [1, 0, 0, 0]
        #expect(Metrics.accuracy(probabilities, loss: .binaryCrossentropy(fromLogits: false), targets: targets) == 0.75)
        #expect(Metrics.accuracy(Tensor(shape: [4, 1], values: [2, -1, 0.5, -3]), loss: .binaryCrossentropy(fromLogits: true), targets: targets) == 0.75)
        let logits = Tensor(shape: [2, 3], values: [0.1, 2, 0.3, 5, 1, 0])
        #expect(Metrics.accuracy(logits, loss: .sparseCategoricalCrossentropy, labels: [1, 2]) == 0.5)
        #expect(Metrics.accuracy(logits, loss: .categoricalCrossentropy(labelSmoothing: 0), targets: [0, 1, 0, 1, 0, 0]) == 1)
    }
}
