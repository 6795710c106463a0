import Foundation

/// One document's prediction as a JSON line, written by hand: bulk prediction emits
/// millions of them, and `JSONEncoder` would cost more than a bag model's forward pass.
///
/// `{"id":"...","label":"...","probability":0.91,"top":[{"label":"...","probability":0.91},...],
/// "tokens":120,"unknown_tokens":3}`, then `"true_label"` when the input has labels and
/// `"truncated":true` when only the document's first bytes were read.
struct PredictionLine {
    var id: String
    var prediction: Predictor.Prediction
    var trueLabel: String?
    var truncated = false

    func append(to out: inout [UInt8]) {
        out += #"{"id":"#.utf8
        Self.appendString(id, to: &out)
        out += #","label":"#.utf8
        Self.appendString(prediction.label, to: &out)
        out += #","probability":"#.utf8
        out += Float(prediction.probability).description.utf8
        out += #","top":["#.utf8
        for (index, candidate) in prediction.top.enumerated() {
            out += index == 0 ? #"{"label":"#.utf8 : #",{"label":"#.utf8
            Self.appendString(candidate.label, to: &out)
            out += #","probability":"#.utf8
            out += Float(candidate.probability).description.utf8
            out.append(UInt8(ascii: "}"))
        }
        out += #"],"tokens":"#.utf8
        out += String(prediction.tokens).utf8
        out += #","unknown_tokens":"#.utf8
        out += String(prediction.unknownTokens).utf8
        if let trueLabel {
            out += #","true_label":"#.utf8
            Self.appendString(trueLabel, to: &out)
        }
        if truncated { out += #","truncated":true"#.utf8 }
        out += "}\n".utf8
    }

    /// For a person: `ID<TAB>LABEL<TAB>LABEL 0.912, LABEL 0.051` (and a note on empty texts).
    func appendText(to out: inout [UInt8]) {
        let top = prediction.top.map { "\($0.label) \(String(format: "%.3f", $0.probability))" }.joined(separator: ", ")
        out += "\(id)\t\(prediction.label)\t\(top)".utf8
        if prediction.tokens == 0 { out += "\t(no words: the prior of an empty text)".utf8 }
        out.append(0x0A)
    }

    /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259); the
    /// text is valid UTF-8 already (Swift strings are).
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += #"\""#.utf8
            case UInt8(ascii: "\\"): out += #"\\"#.utf8
            case 0x0A: out += #"\n"#.utf8
            case 0x0D: out += #"\r"#.utf8
            case 0x09: out += #"\t"#.utf8
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += #"\u00"#.utf8
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
