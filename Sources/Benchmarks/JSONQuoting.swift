/// `text` as a JSON string literal (quotes, backslashes and control characters escaped), for the one-object-per-line
/// `--json` output of the benchmarks.
public func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if scalar.value < 0x20 { out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16) }
            else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
