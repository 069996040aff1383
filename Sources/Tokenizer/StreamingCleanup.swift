/// transformers' `clean_up_tokenization` applied to text that arrives in pieces: each replacement is a small
/// transducer that holds back only the characters that may still start its pattern, and the ten transducers
/// are chained in the reference's order. Feeding text in any split and then calling `finish` yields exactly
/// `PythonStringSemantics.cleanUpTokenization` of the whole text.
struct StreamingCleanup {
    /// One Python `str.replace(pattern, replacement)` pass, streaming left to right.
    private struct Replacer {
        let pattern: [Unicode.Scalar]
        let replacement: [Unicode.Scalar]
        var buffer: [Unicode.Scalar] = []

        mutating func feed(_ scalar: Unicode.Scalar, into output: inout [Unicode.Scalar]) {
            buffer.append(scalar)
            drain(into: &output, final: false)
        }

        mutating func drain(into output: inout [Unicode.Scalar], final: Bool) {
            var start = 0
            while start < buffer.count {
                let available = buffer.count - start
                if available >= pattern.count {
                    if buffer[start..<(start + pattern.count)].elementsEqual(pattern) {
                        output.append(contentsOf: replacement)
                        start += pattern.count
                    } else {
                        output.append(buffer[start])
                        start += 1
                    }
                } else if !final && buffer[start...].elementsEqual(pattern[0..<available]) {
                    break  // may still become a match
                } else {
                    output.append(buffer[start])
                    start += 1
                }
            }
            buffer.removeFirst(start)
        }
    }

    private var stages: [Replacer] = PythonStringSemantics.cleanupReplacements.map {
        Replacer(pattern: Array($0.pattern.unicodeScalars), replacement: Array($0.replacement.unicodeScalars))
    }

    /// Feeds text; returns the part of the cleaned text that can no longer change.
    mutating func feed(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Every pattern starts with a space: with nothing held back, text without spaces passes unchanged.
        if !scalars.contains(" ") && stages.allSatisfy({ $0.buffer.isEmpty }) { return scalars }
        var current = scalars
        for index in stages.indices {
            var next: [Unicode.Scalar] = []
            for scalar in current { stages[index].feed(scalar, into: &next) }
            current = next
        }
        return current
    }

    /// Ends the text; returns everything still held back, cleaned.
    mutating func finish() -> [Unicode.Scalar] {
        var current: [Unicode.Scalar] = []
        for index in stages.indices {
            var next: [Unicode.Scalar] = []
            for scalar in current { stages[index].feed(scalar, into: &next) }
            stages[index].drain(into: &next, final: true)
            current = next
        }
        return current
    }
}
