import Testing
@testable import Tokenizer

/// Python string semantics the pipeline relies on, and the streaming cleanup against the batch one.
@Suite struct TextSemanticsTests {
    @Test func pythonWhitespace() {
        let whitespace: [UInt32] = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
                                    0x2000, 0x2005, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
        let notWhitespace: [UInt32] = [0x00, 0x08, 0x0E, 0x1B, 0x21, 0x180E, 0x200B, 0x2060, 0xFEFF, 0x3001]
        for value in whitespace { #expect(PythonStringSemantics.isWhitespace(Unicode.Scalar(value)!), "\(value)") }
        for value in notWhitespace { #expect(!PythonStringSemantics.isWhitespace(Unicode.Scalar(value)!), "\(value)") }
        #expect(PythonStringSemantics.strip("\u{1F}\u{A0} a b \u{3000}\n") == "a b")
        #expect(PythonStringSemantics.strip(" \t ") == "")
        #expect(PythonStringSemantics.lstrip("  x ") == "x ")
        #expect(PythonStringSemantics.rstrip("  x ") == "  x")
    }

    @Test func cleanupMatchesPythonReplaceChain() {
        #expect(PythonStringSemantics.cleanUpTokenization("a ' s") == "a's")
        #expect(PythonStringSemantics.cleanUpTokenization("x  . y ,z") == "x . y,z")
        #expect(PythonStringSemantics.cleanUpTokenization("' ' '") == "'''")  // checked with CPython
        #expect(PythonStringSemantics.cleanUpTokenization("do n't I 'm it 's we 've they 're")
                == "don't I'm it's we've they're")
    }

    /// Streaming cleanup fed in arbitrary pieces equals the batch cleanup, over many generated strings made
    /// from the characters the patterns use.
    @Test func streamingCleanupEqualsBatch() {
        let alphabet: [Unicode.Scalar] = [" ", ".", "?", "!", ",", "'", "n", "t", "m", "s", "v", "e", "r", "x"]
        var generator = SplitMix(seed: 12345)
        for _ in 0..<3000 {
            let length = Int(generator.next() % 14)
            let scalars = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars)
            let expected = PythonStringSemantics.cleanUpTokenization(String(text))
            var cleanup = StreamingCleanup()
            var output: [Unicode.Scalar] = []
            var index = 0
            while index < scalars.count {
                let step = 1 + Int(generator.next() % 3)
                output += cleanup.feed(Array(scalars[index..<min(scalars.count, index + step)]))
                index += step
            }
            output += cleanup.finish()
            var produced = String.UnicodeScalarView()
            produced.append(contentsOf: output)
            #expect(String(produced) == expected, "\(String(text).debugDescription)")
        }
    }

    @Test func firstOccurrenceIsCodePointExact() {
        #expect(PythonStringSemantics.prefix(before: "<|im_end|>", in: "a<|im_end|>b<|im_end|>") == "a")
        #expect(PythonStringSemantics.prefix(before: "<|im_end|>", in: "none") == "none")
        #expect(PythonStringSemantics.replaceFirst("é", with: "E", in: "e\u{301} é é") == "e\u{301} E é")
    }
}

/// A small deterministic generator so the randomized test is reproducible.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
