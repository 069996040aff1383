import Foundation

/// The JSON files of a model directory, in the layout of OpenGVLab/InternVL2-*.
enum ModelConfigWriter {
    static let chatTokens = ["<|plugin|>", "<|interpreter|>", "<|action_end|>", "<|action_start|>", "<|im_end|>", "<|im_start|>"]
    static let internVLTokens = ["<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"]

    static func configJSON(_ preset: ModelPreset, maxPositions: Int) -> [String: Any] {
        let l = preset.language, v = preset.vision
        let llm: [String: Any] = [
            "_name_or_path": "internlm/internlm2_5-7b-chat", "architectures": ["InternLM2ForCausalLM"],
            "attn_implementation": "eager", "bias": false, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
            "hidden_act": "silu", "hidden_size": l.hidden, "initializer_range": 0.02, "intermediate_size": l.intermediate,
            "max_position_embeddings": maxPositions, "model_type": "internlm2", "num_attention_heads": l.heads,
            "num_hidden_layers": l.layers, "num_key_value_heads": l.kvHeads, "rms_norm_eps": 1e-05,
            "rope_scaling": ["factor": l.dynamicFactor, "type": "dynamic"], "rope_theta": l.ropeTheta,
            "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
            "vocab_size": preset.vocabularySize,
        ]
        let vision: [String: Any] = [
            "architectures": ["InternVisionModel"], "attention_dropout": 0.0, "drop_path_rate": 0.0, "dropout": 0.0,
            "hidden_act": "gelu", "hidden_size": v.hidden, "image_size": 448, "initializer_factor": 1.0,
            "initializer_range": 0.02, "intermediate_size": v.intermediate, "layer_norm_eps": 1e-06,
            "model_type": "intern_vit_6b", "norm_type": "layer_norm", "num_attention_heads": v.heads,
            "num_channels": 3, "num_hidden_layers": v.layers, "patch_size": 14, "qk_normalization": false,
            "qkv_bias": true, "torch_dtype": "bfloat16", "use_flash_attn": false,
        ]
        return [
            "_commit_hash": NSNull(), "architectures": ["InternVLChatModel"],
            "auto_map": ["AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
                         "AutoModel": "modeling_internvl_chat.InternVLChatModel",
                         "AutoModelForCausalLM": "modeling_internvl_chat.InternVLChatModel"],
            "downsample_ratio": 0.5, "dynamic_image_size": true, "force_image_size": 448, "llm_config": llm,
            "max_dynamic_patch": 12, "min_dynamic_patch": 1, "model_type": "internvl_chat", "ps_version": "v2",
            "select_layer": -1, "template": "internlm2-chat", "torch_dtype": "bfloat16", "use_backbone_lora": 0,
            "use_llm_lora": 0, "use_thumbnail": true, "vision_config": vision,
            "generated_by": "internvl init-model --preset \(preset.name) (random weights)",
        ]
    }

    static func tokenizerConfigJSON(sentencePiecePieces: Int) -> [String: Any] {
        var decoder: [String: Any] = [:]
        func entry(_ content: String) -> [String: Any] {
            ["content": content, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true]
        }
        decoder["0"] = entry("<unk>")
        decoder["1"] = entry("<s>")
        decoder["2"] = entry("</s>")
        for (i, token) in chatTokens.enumerated() { decoder[String(sentencePiecePieces - 6 + i)] = entry(token) }
        for (i, token) in internVLTokens.enumerated() { decoder[String(sentencePiecePieces + i)] = entry(token) }
        return [
            "added_tokens_decoder": decoder,
            "additional_special_tokens": specialTokens,
            "auto_map": ["AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer", NSNull()]],
            "bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>",
            "clean_up_tokenization_spaces": false,
            "tokenizer_class": "InternLM2Tokenizer",
        ]
    }

    static var specialTokens: [String] { ["<|im_start|>", "<|im_end|>", "<|action_start|>", "<|action_end|>", "<|interpreter|>", "<|plugin|>"] + internVLTokens }

    static func addedTokensJSON(sentencePiecePieces: Int) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: internVLTokens.enumerated().map { ($0.element, sentencePiecePieces + $0.offset) })
    }

    static func specialTokensMapJSON() -> [String: Any] {
        func token(_ content: String) -> [String: Any] {
            ["content": content, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false]
        }
        return ["additional_special_tokens": specialTokens, "bos_token": token("<s>"), "eos_token": token("</s>"),
                "pad_token": token("</s>"), "unk_token": token("<unk>")]
    }

    static func generationConfigJSON(sentencePiecePieces: Int) -> [String: Any] {
        ["_from_model_config": true, "transformers_version": "4.37.2",
         "eos_token_id": [sentencePiecePieces - 2, sentencePiecePieces - 1]]
    }

    static func write(_ object: [String: Any], to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url)
    }
}
