import Foundation
import Testing
@testable import Tokenizer

/// Every string of the reference's `tokenizer_cases.json`, for the real settings and for the
/// `add_dummy_prefix` variant: ids, tokens and all four decodes must match exactly.
@Suite struct TokenizerGoldenTests {
    static let variants: [(name: String, tokenizer: () throws -> InternLM2Tokenizer,
                           cases: () throws -> Fixtures.TokenizerCasesFile)] = [
        ("main", Fixtures.mainTokenizer, Fixtures.mainTokenizerCases),
        ("add_dummy_prefix", Fixtures.dummyPrefixTokenizer, Fixtures.dummyPrefixTokenizerCases),
    ]

    @Test(arguments: [0, 1])
    func encodeMatchesReference(variant: Int) throws {
        let tokenizer = try Self.variants[variant].tokenizer()
        let file = try Self.variants[variant].cases()
        #expect(file.cases.count == 231)
        var mismatches = 0
        for (index, sample) in file.cases.enumerated() {
            let withBOS = tokenizer.encode(sample.text)
            let withoutBOS = tokenizer.encode(sample.text, addBOS: false)
            let tokens = tokenizer.tokenize(sample.text)
            if withBOS != sample.input_ids || withoutBOS != sample.ids_no_bos || tokens != sample.tokens {
                mismatches += 1
            }
            #expect(withBOS == sample.input_ids, "case \(index) \(sample.text.debugDescription)")
            #expect(withoutBOS == sample.ids_no_bos, "case \(index) \(sample.text.debugDescription)")
            #expect(tokens == sample.tokens, "case \(index) \(sample.text.debugDescription)")
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: [0, 1])
    func decodeMatchesReference(variant: Int) throws {
        let tokenizer = try Self.variants[variant].tokenizer()
        let file = try Self.variants[variant].cases()
        for (index, sample) in file.cases.enumerated() {
            let label: Comment = "case \(index) \(sample.text.debugDescription)"
            #expect(try tokenizer.decode(sample.input_ids) == sample.decode, label)
            #expect(try tokenizer.decode(sample.input_ids, skipSpecialTokens: true) == sample.decode_skip_special, label)
            #expect(try tokenizer.decode(sample.ids_no_bos) == sample.decode_no_bos, label)
            #expect(try tokenizer.decode(sample.ids_no_bos, skipSpecialTokens: true)
                    == sample.decode_no_bos_skip_special, label)
        }
    }

    /// `single_id_decodes` exists in the main fixture only.
    @Test func singleIDDecodesMatchReference() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        let entries = try #require(try Fixtures.mainTokenizerCases().single_id_decodes)
        #expect(entries.count == tokenizer.vocabularySize)
        for entry in entries {
            #expect(tokenizer.token(for: entry.id) == entry.token, "id \(entry.id)")
            #expect(try tokenizer.decode([entry.id]) == entry.decode, "id \(entry.id)")
            #expect(try tokenizer.decode([entry.id], skipSpecialTokens: true) == entry.decode_skip_special, "id \(entry.id)")
        }
    }

    @Test func vocabularyAndSpecialIDs() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        let vocab = try Fixtures.manifest()["vocab"] as! [String: Any]
        #expect(tokenizer.model.count == vocab["sentencepiece_pieces"] as? Int)
        #expect(tokenizer.vocabularySize == vocab["total"] as? Int)
        #expect(tokenizer.bosID == vocab["bos_id"] as? Int)
        #expect(tokenizer.padID == vocab["pad_id"] as? Int)
        #expect(tokenizer.unknownID == vocab["unk_id"] as? Int)
        #expect(tokenizer.eosID == vocab["eos_token_id_sp"] as? Int)
        let specials = vocab["special_ids"] as! [String: Int]
        #expect(specials.count == 15)
        for (text, id) in specials {
            #expect(tokenizer.id(of: text) == id, "\(text)")
            #expect(tokenizer.specialTokenIDs.contains(id), "\(text)")
        }
        #expect(tokenizer.id(of: "<IMG_CONTEXT>") == vocab["img_context"] as? Int)
        #expect(tokenizer.id(of: "<|im_end|>") == vocab["chat_eos"] as? Int)
        #expect(tokenizer.id(of: "no such token ✗") == nil)
        #expect(tokenizer.model.normalizer.addDummyPrefix == false)
        #expect(try Fixtures.dummyPrefixTokenizer().model.normalizer.addDummyPrefix == true)
    }
}
