import Foundation
import Testing
@testable import Tokenizer

/// Streaming decode must reproduce the full decode (special tokens skipped) and never cut a character.
@Suite struct StreamingDetokenizerTests {
    /// Feeds `ids` one by one; returns the deltas including the final flush.
    static func stream(_ ids: [Int], _ tokenizer: InternLM2Tokenizer) throws -> [String] {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var deltas = try ids.map { try detokenizer.append($0) }
        deltas.append(detokenizer.finish())
        return deltas
    }

    @Test(arguments: [0, 1])
    func concatenationEqualsFullDecode(variant: Int) throws {
        let tokenizer = try TokenizerGoldenTests.variants[variant].tokenizer()
        let cases = try TokenizerGoldenTests.variants[variant].cases().cases
        for (index, sample) in cases.enumerated() {
            for ids in [sample.input_ids, sample.ids_no_bos] {
                let deltas = try Self.stream(ids, tokenizer)
                #expect(deltas.joined() == sample.decode_no_bos_skip_special || ids == sample.input_ids,
                        "case \(index)")
                #expect(deltas.joined() == (try tokenizer.decode(ids, skipSpecialTokens: true)), "case \(index)")
                // No delta may hold a replacement character the full text does not have at that place.
                #expect(deltas.joined().unicodeScalars.filter { $0 == "\u{FFFD}" }.count
                        == sample.decode_no_bos_skip_special.unicodeScalars.filter { $0 == "\u{FFFD}" }.count,
                        "case \(index)")
            }
        }
    }

    @Test func byteFallbackCharactersAreNeverSplit() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        let text = "😀 👨‍👩‍👧 𝔘𝔫 龘 🐉"
        let ids = tokenizer.encode(text, addBOS: false)
        // The fixture vocabulary has no emoji: they must come out of byte pieces.
        #expect(ids.contains { tokenizer.model.type(of: $0) == .byte })
        let deltas = try Self.stream(ids, tokenizer)
        #expect(deltas.joined() == text)
        for delta in deltas {
            #expect(!delta.unicodeScalars.contains("\u{FFFD}"), "delta \(delta.debugDescription)")
        }
        // Some deltas are empty while a 4-byte character is being assembled, but text does flow before the end.
        #expect(deltas.contains(""))
        #expect(!tokenizer.hasSpecialTextOnOrdinaryID)
        #expect(deltas.dropLast().joined().hasPrefix("😀 👨‍👩‍👧"))
    }

    @Test func invalidBytesBecomeReplacementCharactersInOrder() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        let byte = { (value: Int) in tokenizer.model.id(of: String(format: "<0x%02X>", value)) }
        // E4 B8 (truncated CJK), then 'A', then F0 9F 98 80 (complete emoji), then a lone E4 at the end.
        let ids = [byte(0xE4), byte(0xB8), byte(0x41), byte(0xF0), byte(0x9F), byte(0x98), byte(0x80), byte(0xE4)]
        let full = try tokenizer.decode(ids, skipSpecialTokens: true)
        #expect(full == "\u{FFFD}\u{FFFD}A😀\u{FFFD}")
        #expect(try Self.stream(ids, tokenizer).joined() == full)
    }

    @Test func cleanupAcrossPiecesMatchesFullDecode() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        for text in ["a ' s", "x , y . z ?", "don 't , they 're , we 've", "1 2 3 .", " n't", "a  .", "' ' '", "end  "] {
            let ids = tokenizer.encode(text, addBOS: false)
            let deltas = try Self.stream(ids, tokenizer)
            #expect(deltas.joined() == (try tokenizer.decode(ids, skipSpecialTokens: true)), "\(text.debugDescription)")
        }
    }

    @Test func legacyAddedTokensAreJoinedWithSpaces() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        // A non-special added token beyond the SentencePiece vocabulary is kept, with spaces around it.
        var added = tokenizer.addedTokens
        added.append(AddedToken(id: tokenizer.vocabularySize, content: "<extra>", special: false))
        let custom = try InternLM2Tokenizer(
            model: tokenizer.model, addedTokens: added,
            additionalSpecialTokens: tokenizer.addedTokens.filter { $0.id > 2 }.map(\.content))
        let ids = custom.encode("ab<extra>cd<|im_end|><extra><extra>", addBOS: true)
        #expect(ids.filter { $0 == tokenizer.vocabularySize }.count == 3)
        let full = try custom.decode(ids, skipSpecialTokens: true)
        #expect(full == "ab <extra> cd <extra> <extra>")
        #expect(try Self.stream(ids, custom).joined() == full)
    }

    @Test func unknownIDThrows() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(throws: TokenizerError.unknownTokenID(id: 99_999, vocabularySize: 1545)) {
            _ = try detokenizer.append(99_999)
        }
        #expect(throws: TokenizerError.unknownTokenID(id: -1, vocabularySize: 1545)) {
            _ = try tokenizer.decode([5, -1])
        }
    }
}
