import Foundation
import Testing
@testable import Tokenizer

/// The JSON string reader/writer behind `internvl tokenize`.
@Suite struct JSONStringCodecTests {
    @Test func roundTripsEveryFixtureString() throws {
        for sample in try Fixtures.mainTokenizerCases().cases {
            let quoted = JSONStringCodec.quoted(sample.text)
            #expect(!quoted.utf8.contains(UInt8(ascii: "\n")))
            #expect(try JSONStringCodec.parseString(quoted) == sample.text)
            // Foundation's parser reads our output back to the same string (it drops U+FEFF, a known quirk of
            // its encoding sniffing, which is one reason `tokenize` uses its own parser).
            guard !sample.text.unicodeScalars.contains("\u{FEFF}") else { continue }
            let parsed = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed)
            #expect(parsed as? String == sample.text)
        }
    }

    @Test func parsesStandardEscapes() throws {
        #expect(try JSONStringCodec.parseString(#"  "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"  "#)
                == "a\"b\\c/d\u{08}\u{0C}\n\r\té😀")
        #expect(try JSONStringCodec.parseString("\"\"\r") == "")
    }

    @Test func rejectsWhatIsNotOneJSONString() {
        for line in ["", "   ", "abc", "42", "[\"a\"]", "\"a\" x", "\"a", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"",
                     "\"\\u12\"", "\"tab\there\"", "\"a\"\"b\""] {
            #expect(throws: JSONStringCodec.ParseError.self, "\(line.debugDescription)") {
                _ = try JSONStringCodec.parseString(line)
            }
        }
    }

    @Test func escapesLikeAStandardEncoder() {
        #expect(JSONStringCodec.quoted("a\"\\\n\t\u{0}\u{1F}é\u{7F}") == "\"a\\\"\\\\\\n\\t\\u0000\\u001fé\u{7F}\"")
        // Characters Python's str.splitlines() breaks on are escaped so one record stays on one line.
        #expect(JSONStringCodec.quoted("\u{85}\u{2028}\u{2029}\u{1C}") == "\"\\u0085\\u2028\\u2029\\u001c\"")
    }
}
