import Testing
@testable import FolioPipeline

@Suite struct SVGChartTests {
    @Test func ticksAreRoundValuesInsideTheRange() {
        #expect(LineChart.niceTicks(0.9, 6.1) == [1, 2, 3, 4, 5, 6])
        let fractions = LineChart.niceTicks(0.534, 1.01)
        #expect(fractions.count == 5 && zip(fractions, [0.6, 0.7, 0.8, 0.9, 1.0]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(LineChart.niceTicks(-3, 3) == [-3, -2, -1, 0, 1, 2, 3])
        #expect(LineChart.label(0.75) == "0.75" && LineChart.label(2) == "2" && LineChart.label(1234.5) == "1234")
    }

    @Test func labelsAreEscapedAndEverySeriesIsDrawn() {
        var chart = LineChart(title: "a < b & \"c\"", xLabel: "x", yLabel: "y", logScaleX: true)
        chart.series = [.init(name: "one", points: [(8, 0.5), (16, 0.6)], spread: [(0.4, 0.6), (0.5, 0.7)]),
                        .init(name: "two", points: [(8, .nan), (16, 0.7)], dashed: true)]
        let svg = chart.svg()
        #expect(svg.contains("a &lt; b &amp; &quot;c&quot;"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("stroke-dasharray") && !svg.contains("nan"))
        #expect(svg.contains(">8</text>") && svg.contains(">16</text>"), "batch sizes label the log axis")
    }
}

@Suite struct SweepReportTests {
    func record(_ micro: Int, _ steps: Int, seed: UInt64, accuracy: Double) -> SweepRecord {
        var record = SweepRecord(microBatch: micro, accumulationSteps: steps, seed: seed, learningRate: 0.01, runDir: "/r")
        record.valAccuracy = accuracy
        return record
    }

    /// Regression: the accumulated line joined its points in table order (128, 16, 32).
    @Test func theAccumulatedLineRunsFromSmallToLargeAndEndsAtThePlainRun() throws {
        let records = [record(16, 1, seed: 1, accuracy: 0.8), record(128, 1, seed: 1, accuracy: 0.7), record(128, 1, seed: 2, accuracy: 0.9),
                       record(16, 8, seed: 1, accuracy: 0.75), record(32, 4, seed: 1, accuracy: 0.72)]
        let chart = SweepReport(name: "t", records: records, budget: "1 epoch", lrScaling: "none", baseBatch: 32, baseLearningRate: 0.01)
            .accuracyChart()
        #expect(chart.series.count == 2)
        #expect(chart.series[0].points.map(\.x) == [16, 128])
        let accumulated = chart.series[1]
        #expect(accumulated.points.map(\.x) == [16, 32, 128] && accumulated.dashed)
        #expect(accumulated.points[2].y == 0.8 && accumulated.spread?[2].low == 0.7 && accumulated.spread?[2].high == 0.9, "mean and seed range")
    }
}
