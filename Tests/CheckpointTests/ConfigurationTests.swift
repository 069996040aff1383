import Checkpoint
import Foundation
import Testing
import TestSupport

@Suite struct ConfigurationTests {
    func fixtureJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.tinyModel.appendingPathComponent("config.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func decode(_ object: [String: Any]) throws -> InternVLConfiguration {
        try InternVLConfiguration(json: JSONSerialization.data(withJSONObject: object), file: "config.json")
    }

    @Test func fixtureConfigurationDecodes() throws {
        let config = try InternVLConfiguration(directory: Fixtures.tinyModel)
        #expect(config.llm.architecture == .internLM2)
        #expect(config.llm.hiddenSize == 128 && config.llm.layerCount == 2)
        #expect(config.llm.headCount == 4 && config.llm.kvHeadCount == 2 && config.llm.headDim == 32)
        #expect(config.llm.groupSize == 2)
        #expect(config.llm.intermediateSize == 256 && config.llm.vocabularySize == 1545)
        #expect(config.llm.rmsNormEpsilon == 1e-5)
        #expect(config.llm.ropeTheta == 1_000_000)
        #expect(config.llm.ropeScaling == .dynamic(factor: 2))
        #expect(config.llm.maxPositionEmbeddings == 32768)
        #expect(config.vision.hiddenSize == 64 && config.vision.layerCount == 2 && config.vision.headCount == 4)
        #expect(config.vision.norm == .layerNorm && config.vision.layerNormEpsilon == 1e-6)
        #expect(config.vision.qkvBias && !config.vision.qkNormalization)
        #expect(config.vision.patchesPerSide == 32)
        #expect(config.imageTokensPerTile == 256)
        #expect(config.pixelShuffleVersion == "v2" && config.selectLayer == -1)
        #expect(config.template == "internlm2-chat" && config.systemMessage == nil)
        #expect(config.maxDynamicPatch == 12 && config.useThumbnail)
    }

    func expectError(_ edit: (inout [String: Any]) -> Void, mentioning words: [String]) throws {
        var object = try fixtureJSON()
        edit(&object)
        #expect { try decode(object) } throws: { error in
            let text = "\(error)"
            return error is CheckpointError && words.allSatisfy(text.contains) && !text.contains("\n")
        }
    }

    static func editLLM(_ object: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var llm = object["llm_config"] as! [String: Any]
        edit(&llm)
        object["llm_config"] = llm
    }

    @Test func missingKeysAreNamedWithTheirPath() throws {
        try expectError({ Self.editLLM(&$0) { $0["hidden_size"] = nil } }, mentioning: ["config.json", "'llm_config.hidden_size'", "missing"])
        try expectError({ $0["vision_config"] = nil }, mentioning: ["'vision_config'", "missing"])
        try expectError({ $0["template"] = nil }, mentioning: ["'template'"])
    }

    @Test func wrongTypesAreNamed() throws {
        try expectError({ Self.editLLM(&$0) { $0["num_attention_heads"] = "four" } },
                        mentioning: ["'llm_config.num_attention_heads'", "string", "integer"])
        try expectError({ Self.editLLM(&$0) { $0["num_attention_heads"] = true } },
                        mentioning: ["'llm_config.num_attention_heads'", "integer"])
        try expectError({ $0["use_thumbnail"] = 1 }, mentioning: ["'use_thumbnail'", "true or false"])
    }

    @Test func unimplementedArchitecturesSayWhich() throws {
        try expectError({ Self.editLLM(&$0) { $0["architectures"] = ["Qwen2ForCausalLM"] } },
                        mentioning: ["Qwen2ForCausalLM", "InternVL2-1B", "not implemented", "InternLM2ForCausalLM"])
        try expectError({ Self.editLLM(&$0) { $0["architectures"] = ["Phi3ForCausalLM"] } },
                        mentioning: ["Phi3ForCausalLM", "InternVL2-4B"])
        try expectError({ $0["template"] = "phi3-chat" }, mentioning: ["phi3-chat", "not implemented"])
    }

    @Test func impossibleShapesAreRefused() throws {
        try expectError({ Self.editLLM(&$0) { $0["num_key_value_heads"] = 3 } },
                        mentioning: ["'llm_config.num_key_value_heads'", "does not divide"])
        try expectError({ Self.editLLM(&$0) { $0["hidden_size"] = 130 } }, mentioning: ["does not divide"])
        try expectError({ Self.editLLM(&$0) { $0["rope_scaling"] = ["type": "yarn", "factor": 2.0] } },
                        mentioning: ["'llm_config.rope_scaling.type'", "yarn"])
    }

    @Test func integerValuedJSONNumbersAreAccepted() throws {
        var object = try fixtureJSON()
        Self.editLLM(&object) { $0["rope_theta"] = 500000.0; $0["num_hidden_layers"] = 2.0 }
        let config = try decode(object)
        #expect(config.llm.ropeTheta == 500000 && config.llm.layerCount == 2)
    }
}
