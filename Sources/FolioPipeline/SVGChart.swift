import Foundation

/// A small SVG writer for the run and sweep reports: line charts (optionally with error
/// bars and a log-2 x axis, for batch sizes) and heat maps (confusion matrices). Plain
/// SVG 1.1 text, no scripts, no external fonts, so any browser or Markdown viewer shows it.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// Per point, the spread shown as an error bar (min and max).
        public var spread: [(low: Double, high: Double)]?
        public var dashed = false

        public init(name: String, points: [(x: Double, y: Double)], spread: [(low: Double, high: Double)]? = nil, dashed: Bool = false) {
            self.name = name
            self.points = points
            self.spread = spread
            self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    public var logScaleX = false

    public init(title: String, xLabel: String, yLabel: String, logScaleX: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logScaleX = logScaleX
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    public func svg(width: Double = 640, height: Double = 400) -> String {
        let (left, right, top, bottom) = (64.0, 200.0, 36.0, 48.0)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let xs = series.flatMap { $0.points.map { logScaleX ? log2(max($0.x, 1e-300)) : $0.x } }
        var ys = series.flatMap { $0.points.map(\.y) }
        ys += series.flatMap { ($0.spread ?? []).flatMap { [$0.low, $0.high] } }
        let finiteYs = ys.filter(\.isFinite)
        let xRange = Self.padded(xs.min() ?? 0, xs.max() ?? 1, fraction: 0.02)
        let yRange = Self.padded(finiteYs.min() ?? 0, finiteYs.max() ?? 1, fraction: 0.06)
        let px = { (x: Double) in left + ((self.logScaleX ? log2(max(x, 1e-300)) : x) - xRange.0) / (xRange.1 - xRange.0) * plotWidth }
        let py = { (y: Double) in top + (1 - (y - yRange.0) / (yRange.1 - yRange.0)) * plotHeight }
        var out = Self.header(width: width, height: height, title: title)
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        // Ticks: on a log axis the batch sizes themselves; otherwise round steps (1, 2 or 5
        // times a power of ten).
        let xTicks: [Double] = logScaleX ? Array(Set(series.flatMap { $0.points.map(\.x) })).sorted() : Self.niceTicks(xRange.0, xRange.1)
        for tick in xTicks {
            let x = logScaleX ? px(tick) : left + (tick - xRange.0) / (xRange.1 - xRange.0) * plotWidth
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 4))\" stroke=\"#333\"/>"
            out += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 17))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        for value in Self.niceTicks(yRange.0, yRange.1) {
            let y = py(value)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.label(value))</text>\n"
        }
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text transform=\"translate(16 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (index, line) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let visible = line.points.filter { $0.y.isFinite }
            let path = visible.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            for point in visible {
                out += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"3\" fill=\"\(color)\"/>"
            }
            for (point, spread) in zip(line.points, line.spread ?? []) where spread.low.isFinite && spread.high.isFinite {
                let x = px(point.x)
                out += "<line x1=\"\(f(x))\" y1=\"\(f(py(spread.low)))\" x2=\"\(f(x))\" y2=\"\(f(py(spread.high)))\" stroke=\"\(color)\"/>"
                for y in [spread.low, spread.high] {
                    out += "<line x1=\"\(f(x - 4))\" y1=\"\(f(py(y)))\" x2=\"\(f(x + 4))\" y2=\"\(f(py(y)))\" stroke=\"\(color)\"/>"
                }
            }
            let legendY = top + 14 + Double(index) * 18
            out += "\n<line x1=\"\(f(width - right + 10))\" y1=\"\(f(legendY - 4))\" x2=\"\(f(width - right + 34))\" y2=\"\(f(legendY - 4))\" stroke=\"\(color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            out += "<text x=\"\(f(width - right + 40))\" y=\"\(f(legendY))\">\(escape(line.name))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// Five to ten round values inside `low...high`.
    static func niceTicks(_ low: Double, _ high: Double) -> [Double] {
        let raw = (high - low) / 6
        guard raw > 0, raw.isFinite else { return [low] }
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        var ticks: [Double] = []
        var value = ceil(low / step) * step
        while value <= high + step * 1e-9 {
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return ticks
    }

    static func padded(_ low: Double, _ high: Double, fraction: Double) -> (Double, Double) {
        guard low.isFinite, high.isFinite else { return (0, 1) }
        if high - low < 1e-12 { return (low - 0.5, high + 0.5) }
        let margin = (high - low) * fraction
        return (low - margin, high + margin)
    }

    static func label(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e7 { return String(Int(value)) }
        var text = String(format: abs(value) >= 100 ? "%.0f" : "%.3f", value)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text
    }

    static func header(width: Double, height: Double, title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" \
        font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\(escape(title))</text>

        """
    }
}

/// A confusion matrix as a heat map: rows are true labels, columns predicted ones, each
/// cell shaded by its share of the row and labelled with its count.
public struct ConfusionMatrixChart: Sendable {
    public var title: String
    public var labels: [String]
    public var counts: [[Int]]

    public init(title: String, labels: [String], counts: [[Int]]) {
        self.title = title
        self.labels = labels
        self.counts = counts
    }

    public func svg() -> String {
        let cell = 36.0
        let margin = 12 + Double(labels.map(\.count).max() ?? 4) * 7
        let size = margin + cell * Double(labels.count) + 20
        var out = LineChart.header(width: size, height: size + 30, title: title)
        for (row, values) in counts.enumerated() {
            let total = max(1, values.reduce(0, +))
            let y = margin + 10 + Double(row) * cell
            out += "<text x=\"\(f(margin - 6))\" y=\"\(f(y + cell / 2 + 4))\" text-anchor=\"end\">\(escape(labels[row]))</text>\n"
            for (column, count) in values.enumerated() {
                let share = Double(count) / Double(total)
                let x = margin + Double(column) * cell
                let shade = Int(255 - share * 200)
                out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cell))\" height=\"\(f(cell))\" fill=\"rgb(\(shade),\(shade),255)\" stroke=\"#fff\"/>"
                out += "<text x=\"\(f(x + cell / 2))\" y=\"\(f(y + cell / 2 + 4))\" text-anchor=\"middle\" font-size=\"10\">\(count)</text>\n"
            }
        }
        for (column, label) in labels.enumerated() {
            let x = margin + Double(column) * cell + cell / 2
            let y = margin + 6
            out += "<text transform=\"translate(\(f(x)) \(f(y))) rotate(-60)\" font-size=\"10\">\(escape(label))</text>\n"
        }
        return out + "</svg>\n"
    }
}

private func f(_ value: Double) -> String { String(format: "%.1f", value) }

func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
