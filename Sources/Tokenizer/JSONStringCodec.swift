/// Reads and writes single JSON string values, for the JSON Lines interface of `internvl tokenize`.
///
/// Parsing is strict RFC 8259 (no raw control characters, valid escapes, surrogate pairs only in pairs).
/// Writing escapes like a standard encoder with non-ASCII kept as UTF-8, plus U+0085, U+2028 and U+2029,
/// which some line splitters (Python's `str.splitlines`) treat as line breaks.
public enum JSONStringCodec {
    /// Why a line is not a JSON string.
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        /// The text is not a single JSON string value; `reason` says what is wrong and where.
        case notAString(reason: String)

        public var description: String {
            switch self {
            case .notAString(let reason): return reason
            }
        }
    }

    /// Parses UTF-8 `text` holding exactly one JSON string (surrounding JSON whitespace allowed).
    public static func parseString(_ text: String) throws -> String {
        let scalars = Array(text.unicodeScalars)
        var index = 0
        func skipWhitespace() {
            while index < scalars.count, [" ", "\t", "\r", "\n"].contains(scalars[index]) { index += 1 }
        }
        skipWhitespace()
        guard index < scalars.count else { throw ParseError.notAString(reason: "empty line, expected a JSON string") }
        guard scalars[index] == "\"" else {
            throw ParseError.notAString(reason: "expected a JSON string starting with '\"' at column \(index + 1)")
        }
        index += 1
        var result = String.UnicodeScalarView()
        var closed = false
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if scalar == "\"" { closed = true; break }
            if scalar.value < 0x20 {
                throw ParseError.notAString(
                    reason: "raw control character U+\(hex4(scalar.value)) inside the string at column \(index)")
            }
            if scalar != "\\" { result.append(scalar); continue }
            guard index < scalars.count else { break }
            let escape = scalars[index]
            index += 1
            switch escape {
            case "\"": result.append("\"")
            case "\\": result.append("\\")
            case "/": result.append("/")
            case "b": result.append("\u{08}")
            case "f": result.append("\u{0C}")
            case "n": result.append("\n")
            case "r": result.append("\r")
            case "t": result.append("\t")
            case "u":
                let high = try readHex4(scalars, &index)
                if (0xD800..<0xDC00).contains(high) {
                    guard index + 1 < scalars.count, scalars[index] == "\\", scalars[index + 1] == "u" else {
                        throw ParseError.notAString(reason: "unpaired surrogate \\u\(hex4(high)) at column \(index)")
                    }
                    index += 2
                    let low = try readHex4(scalars, &index)
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw ParseError.notAString(reason: "unpaired surrogate \\u\(hex4(high)) at column \(index)")
                    }
                    result.append(Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!)
                } else if let scalar = Unicode.Scalar(high) {
                    result.append(scalar)
                } else {
                    throw ParseError.notAString(reason: "unpaired surrogate \\u\(hex4(high)) at column \(index)")
                }
            default:
                throw ParseError.notAString(reason: "invalid escape \\\(escape) at column \(index)")
            }
        }
        guard closed else { throw ParseError.notAString(reason: "unterminated JSON string") }
        skipWhitespace()
        guard index == scalars.count else {
            throw ParseError.notAString(reason: "unexpected text after the JSON string at column \(index + 1)")
        }
        return String(result)
    }

    /// Appends `text` as a quoted JSON string to `output`.
    public static func appendQuoted(_ text: String, to output: inout String) {
        output.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case "\u{08}": output.append("\\b")
            case "\u{0C}": output.append("\\f")
            default:
                if scalar.value < 0x20 || scalar.value == 0x85 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    output.append("\\u\(hex4(scalar.value).lowercased())")
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output.append("\"")
    }

    /// `text` as a quoted JSON string.
    public static func quoted(_ text: String) -> String {
        var output = ""
        appendQuoted(text, to: &output)
        return output
    }

    private static func readHex4(_ scalars: [Unicode.Scalar], _ index: inout Int) throws -> UInt32 {
        guard index + 4 <= scalars.count else { throw ParseError.notAString(reason: "truncated \\u escape") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = UInt32(String(scalars[index + offset]), radix: 16) else {
                throw ParseError.notAString(reason: "invalid \\u escape at column \(index + offset + 1)")
            }
            value = value << 4 | digit
        }
        index += 4
        return value
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
