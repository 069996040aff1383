import Foundation
import Testing
@testable import Tokenizer

/// Broken inputs give a typed error whose one-line message names the file.
@Suite struct TokenizerLoadingErrorTests {
    /// Copies the fixture's side files into a temp dir and writes `modelBytes` as `tokenizer.model`.
    static func directory(modelBytes: Data?, config: String? = nil) throws -> URL {
        let directory = try Fixtures.temporaryDirectory()
        for name in ["tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"] {
            try FileManager.default.copyItem(at: Fixtures.modelDirectory.appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
        if let modelBytes { try modelBytes.write(to: directory.appendingPathComponent("tokenizer.model")) }
        if let config {
            let url = directory.appendingPathComponent("tokenizer_config.json")
            try FileManager.default.removeItem(at: url)
            try Data(config.utf8).write(to: url)
        }
        return directory
    }

    static func loadError(_ directory: URL) -> TokenizerError? {
        do {
            _ = try InternLM2Tokenizer(directory: directory)
            return nil
        } catch let error as TokenizerError {
            return error
        } catch {
            return nil
        }
    }

    static func realModel() throws -> Data {
        try Data(contentsOf: Fixtures.modelDirectory.appendingPathComponent("tokenizer.model"))
    }

    @Test func truncatedModel() throws {
        let directory = try Self.directory(modelBytes: try Self.realModel().prefix(100))
        let error = try #require(Self.loadError(directory))
        guard case .malformedModel(let path, _) = error else {
            Issue.record("expected malformedModel, got \(error)")
            return
        }
        #expect(path.hasSuffix("/tokenizer.model"))
        #expect(error.description.contains(directory.appendingPathComponent("tokenizer.model").path))
        #expect(!error.description.contains("\n"))
    }

    @Test func garbageModel() throws {
        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for bytes in [garbage, Data("this is not a protobuf at all".utf8), Data()] {
            let directory = try Self.directory(modelBytes: bytes)
            let error = try #require(Self.loadError(directory))
            guard case .malformedModel = error else {
                Issue.record("expected malformedModel, got \(error)")
                continue
            }
            #expect(error.description.contains("tokenizer.model"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func missingModel() throws {
        let directory = try Self.directory(modelBytes: nil)
        let path = directory.appendingPathComponent("tokenizer.model").path
        #expect(Self.loadError(directory) == .fileNotFound(path: path))
        #expect(TokenizerError.fileNotFound(path: path).description == "\(path): file not found")
    }

    @Test func unigramModelIsRejectedByType() throws {
        var proto = try Sentencepiece_ModelProto(serializedBytes: try Self.realModel())
        proto.trainerSpec.modelType = .unigram
        let directory = try Self.directory(modelBytes: try proto.serializedData())
        let error = try #require(Self.loadError(directory))
        #expect(error.description.contains("tokenizer.model"))
        #expect(error.description.contains("UNIGRAM"))
    }

    @Test func precompiledCharsmapIsRejectedByName() throws {
        var proto = try Sentencepiece_ModelProto(serializedBytes: try Self.realModel())
        proto.normalizerSpec.name = "nmt_nfkc"
        proto.normalizerSpec.precompiledCharsmap = Data([1, 2, 3, 4, 5])
        let directory = try Self.directory(modelBytes: try proto.serializedData())
        let error = try #require(Self.loadError(directory))
        guard case .unsupportedModel = error else {
            Issue.record("expected unsupportedModel, got \(error)")
            return
        }
        #expect(error.description.contains("nmt_nfkc"))
        #expect(error.description.contains("tokenizer.model"))
    }

    @Test func modelWithoutPiecesOrUnknown() throws {
        var empty = try Sentencepiece_ModelProto(serializedBytes: try Self.realModel())
        empty.pieces = []
        let error = try #require(Self.loadError(try Self.directory(modelBytes: try empty.serializedData())))
        #expect(error.description.contains("zero pieces"))
        var noUnknown = try Sentencepiece_ModelProto(serializedBytes: try Self.realModel())
        noUnknown.pieces[0].type = .control
        let second = try #require(Self.loadError(try Self.directory(modelBytes: try noUnknown.serializedData())))
        #expect(second.description.contains("UNKNOWN"))
    }

    @Test func malformedConfiguration() throws {
        for (config, fragment) in [
            ("{ not json", "invalid JSON"),
            ("[1, 2]", "top level"),
            (#"{"added_tokens_decoder": {"x": {"content": "<a>"}}}"#, "\"x\""),
            (#"{"added_tokens_decoder": {"5": {"special": true}}}"#, "content"),
            (#"{"added_tokens_decoder": {"99999999999": {"content": "<big>"}}}"#, "99999999999"),
            (#"{"bos_token": 7}"#, "bos_token"),
            (#"{"add_bos_token": "yes"}"#, "add_bos_token"),
        ] {
            let directory = try Self.directory(modelBytes: try Self.realModel(), config: config)
            let error = try #require(Self.loadError(directory), "\(config)")
            guard case .malformedConfiguration(let path, _) = error else {
                Issue.record("expected malformedConfiguration for \(config), got \(error)")
                continue
            }
            #expect(path.hasSuffix("/tokenizer_config.json"))
            #expect(error.description.contains("tokenizer_config.json"))
            #expect(error.description.contains(fragment), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    /// Without the transformers side files the tokenizer still loads, with InternLM2Tokenizer's defaults.
    @Test func modelAloneUsesDefaults() throws {
        let directory = try Fixtures.temporaryDirectory()
        try Self.realModel().write(to: directory.appendingPathComponent("tokenizer.model"))
        let tokenizer = try InternLM2Tokenizer(directory: directory)
        #expect(tokenizer.vocabularySize == 1536)
        #expect(tokenizer.bosID == 1 && tokenizer.eosID == 2 && tokenizer.padID == 2 && tokenizer.unknownID == 0)
        #expect(tokenizer.specialTokenIDs == [0, 1, 2])
        // The chat tokens are user-defined pieces of the model, so they still encode whole.
        #expect(tokenizer.encode("<|im_end|>", addBOS: false) == [1534])
        #expect(tokenizer.id(of: "<IMG_CONTEXT>") == nil)
    }
}
