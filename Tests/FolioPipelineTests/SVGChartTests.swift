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
