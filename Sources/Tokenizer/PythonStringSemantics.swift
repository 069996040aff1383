/// Python `str` operations that the reference pipeline applies to text, reproduced exactly: `str.isspace`
/// whitespace for `strip()`, and transformers' `clean_up_tokenization` replacement chain.
public enum PythonStringSemantics {
    /// Whether `scalar` is whitespace for Python's `str.isspace()` (and so for `strip()`): the characters
    /// with bidirectional class WS, B or S, or general category Zs.
    public static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Python `s.strip()`: removes leading and trailing whitespace.
    public static func strip(_ text: String) -> String {
        rstrip(lstrip(text))
    }

    /// Python `s.lstrip()`: removes leading whitespace.
    public static func lstrip(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhitespace($0) }) else { return "" }
        return String(scalars[first...])
    }

    /// Python `s.rstrip()`: removes trailing whitespace.
    public static func rstrip(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let last = scalars.lastIndex(where: { !isWhitespace($0) }) else { return "" }
        return String(scalars[...last])
    }

    /// The replacements of transformers' `clean_up_tokenization`, applied in this order, each over the whole
    /// string (left to right, non-overlapping), like chained Python `str.replace` calls.
    public static let cleanupReplacements: [(pattern: String, replacement: String)] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ]

    /// transformers' `clean_up_tokenization`.
    public static func cleanUpTokenization(_ text: String) -> String {
        var bytes = Array(text.utf8)
        for (pattern, replacement) in cleanupReplacements {
            bytes = replaceAll(bytes, pattern: Array(pattern.utf8), with: Array(replacement.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Python `str.replace` on UTF-8 (exact for ASCII patterns, which never match inside a multi-byte
    /// character).
    static func replaceAll(_ text: [UInt8], pattern: [UInt8], with replacement: [UInt8]) -> [UInt8] {
        guard text.count >= pattern.count, let first = pattern.first, text.contains(first) else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = 0
        let last = text.count - pattern.count
        while index < text.count {
            if index <= last && text[index] == first {
                var matches = true
                var offset = 1
                while offset < pattern.count {
                    if text[index + offset] != pattern[offset] { matches = false; break }
                    offset += 1
                }
                if matches {
                    output.append(contentsOf: replacement)
                    index += pattern.count
                    continue
                }
            }
            output.append(text[index])
            index += 1
        }
        return output
    }

    /// The byte offset of the first occurrence of `pattern` in `text` (Python `str.find`, on code points; UTF-8
    /// byte matching is equivalent because UTF-8 is self-synchronizing). Unlike `String.range(of:)`, this
    /// never applies Unicode equivalence or grapheme boundaries.
    public static func firstByteOffset(of pattern: String, in text: String) -> Int? {
        let haystack = Array(text.utf8), needle = Array(pattern.utf8)
        guard !needle.isEmpty else { return 0 }
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }

    /// Python `text.find(pattern) >= 0`, exact on code points.
    public static func contains(_ pattern: String, in text: String) -> Bool {
        firstByteOffset(of: pattern, in: text) != nil
    }

    /// Python `text.replace(pattern, replacement, 1)`.
    public static func replaceFirst(_ pattern: String, with replacement: String, in text: String) -> String {
        guard let offset = firstByteOffset(of: pattern, in: text) else { return text }
        let bytes = Array(text.utf8)
        var result = Array(bytes[..<offset])
        result.append(contentsOf: replacement.utf8)
        result.append(contentsOf: bytes[(offset + pattern.utf8.count)...])
        return String(decoding: result, as: UTF8.self)
    }

    /// Python `text.split(separator)[0]`: the text before the first occurrence of `separator`.
    public static func prefix(before separator: String, in text: String) -> String {
        guard let offset = firstByteOffset(of: separator, in: text) else { return text }
        return String(decoding: Array(text.utf8)[..<offset], as: UTF8.self)
    }
}
