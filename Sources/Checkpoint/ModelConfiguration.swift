import Foundation

/// The InternVL chat model configuration (`config.json`), typed and validated.
///
/// HF key names appear only in this file. Anything missing, mistyped or not implemented by this build is reported
/// with the file and the key path (e.g. `config.json: key 'llm_config.num_attention_heads' is missing`).
public struct InternVLConfiguration: Sendable, Equatable {
    public var vision: VisionConfiguration
    public var llm: LanguageModelConfiguration
    /// Prompt template name (`internlm2-chat` for InternVL2-2B/8B/26B).
    public var template: String
    /// The system message from the config, if it overrides the template's default.
    public var systemMessage: String?
    /// Pixel-shuffle scale (0.5: 2x2 patches become one token).
    public var downsampleRatio: Double
    /// Pixel-shuffle variant: "v1" or "v2" (InternVL2 uses v2).
    public var pixelShuffleVersion: String
    /// Which ViT hidden state feeds the projector (-1 = last).
    public var selectLayer: Int
    /// Tile side in pixels.
    public var imageSize: Int
    /// Whether images are split into a grid of tiles (dynamic resolution).
    public var dynamicImageSize: Bool
    public var minDynamicPatch: Int
    public var maxDynamicPatch: Int
    /// Whether a whole-image thumbnail tile is appended when an image has more than one tile.
    public var useThumbnail: Bool

    /// Image tokens per tile: (imageSize / patchSize)^2 * downsampleRatio^2 (256 for 448 px tiles).
    public var imageTokensPerTile: Int {
        let side = imageSize / vision.patchSize
        return Int((Double(side * side) * downsampleRatio * downsampleRatio).rounded())
    }

    /// The prompt templates this build implements.
    public static let supportedTemplates = ["internlm2-chat"]

    /// Reads and validates `config.json` in `directory`.
    public init(directory: URL) throws {
        try self.init(fields: JSONFields.load(directory.appendingPathComponent("config.json")))
    }

    /// Decodes and validates a `config.json` document (`file` names it in errors).
    public init(json: Data, file: String = "config.json") throws {
        guard let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw CheckpointError(file: file, "not a JSON object")
        }
        try self.init(fields: JSONFields(file: file, object: object))
    }

    init(fields: JSONFields) throws {
        let modelType = try fields.string("model_type", default: "internvl_chat")
        guard modelType == "internvl_chat" else {
            throw fields.invalid("model_type", "is '\(modelType)'; only 'internvl_chat' checkpoints are supported")
        }
        vision = try VisionConfiguration(fields: fields.object("vision_config"))
        llm = try LanguageModelConfiguration(fields: fields.object("llm_config"))
        template = try fields.string("template")
        guard Self.supportedTemplates.contains(template) else {
            throw fields.invalid("template", "is '\(template)', not implemented yet; supported: \(Self.supportedTemplates.joined(separator: ", "))")
        }
        systemMessage = fields.has("system_message") ? try fields.string("system_message") : nil
        downsampleRatio = try fields.double("downsample_ratio")
        guard downsampleRatio == 0.5 else {
            throw fields.invalid("downsample_ratio", "is \(downsampleRatio); only 0.5 is implemented")
        }
        pixelShuffleVersion = try fields.string("ps_version", default: "v1")
        guard ["v1", "v2"].contains(pixelShuffleVersion) else {
            throw fields.invalid("ps_version", "is '\(pixelShuffleVersion)'; expected 'v1' or 'v2'")
        }
        selectLayer = try fields.int("select_layer", default: -1)
        guard selectLayer < 0 ? -selectLayer <= vision.layerCount + 1 : selectLayer <= vision.layerCount else {
            throw fields.invalid("select_layer", "is \(selectLayer), outside the \(vision.layerCount + 1) vision hidden states")
        }
        imageSize = try fields.int("force_image_size", default: vision.imageSize)
        guard imageSize > 0, imageSize % vision.patchSize == 0, (imageSize / vision.patchSize) % 2 == 0 else {
            throw fields.invalid("force_image_size", "is \(imageSize); must be an even multiple of patch_size \(vision.patchSize)")
        }
        dynamicImageSize = try fields.bool("dynamic_image_size", default: true)
        minDynamicPatch = try fields.int("min_dynamic_patch", default: 1)
        maxDynamicPatch = try fields.int("max_dynamic_patch", default: 12)
        guard 1 <= minDynamicPatch, minDynamicPatch <= maxDynamicPatch else {
            throw fields.invalid("max_dynamic_patch", "is \(maxDynamicPatch) with min_dynamic_patch \(minDynamicPatch); need 1 <= min <= max")
        }
        useThumbnail = try fields.bool("use_thumbnail", default: true)
        guard imageTokensPerTile > 0 else { throw fields.invalid("force_image_size", "gives no image tokens") }
    }
}

/// InternViT configuration (`vision_config`).
public struct VisionConfiguration: Sendable, Equatable {
    public enum Norm: String, Sendable { case layerNorm = "layer_norm", rmsNorm = "rms_norm" }

    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var norm: Norm
    public var layerNormEpsilon: Double
    public var qkvBias: Bool
    public var qkNormalization: Bool
    public var imageSize: Int
    public var patchSize: Int
    public var channelCount: Int

    /// Per-head width.
    public var headDim: Int { hiddenSize / headCount }
    /// Patches per side at the native image size (32 for 448/14).
    public var patchesPerSide: Int { imageSize / patchSize }

    init(fields: JSONFields) throws {
        if fields.has("architectures") {
            let architectures = try fields.strings("architectures")
            guard architectures.contains("InternVisionModel") else {
                throw fields.invalid("architectures", "is \(architectures); only InternVisionModel is implemented")
            }
        }
        hiddenSize = try fields.int("hidden_size")
        layerCount = try fields.int("num_hidden_layers")
        headCount = try fields.int("num_attention_heads")
        intermediateSize = try fields.int("intermediate_size")
        let activation = try fields.string("hidden_act", default: "gelu")
        guard activation == "gelu" else {
            throw fields.invalid("hidden_act", "is '\(activation)'; only 'gelu' (exact erf) is implemented")
        }
        let normName = try fields.string("norm_type", default: "rms_norm")
        guard let norm = Norm(rawValue: normName) else {
            throw fields.invalid("norm_type", "is '\(normName)'; expected 'layer_norm' or 'rms_norm'")
        }
        self.norm = norm
        layerNormEpsilon = try fields.double("layer_norm_eps", default: 1e-6)
        qkvBias = try fields.bool("qkv_bias", default: false)
        qkNormalization = try fields.bool("qk_normalization", default: false)
        imageSize = try fields.int("image_size", default: 448)
        patchSize = try fields.int("patch_size", default: 14)
        channelCount = try fields.int("num_channels", default: 3)
        for (key, value) in [("hidden_size", hiddenSize), ("num_hidden_layers", layerCount),
                             ("num_attention_heads", headCount), ("intermediate_size", intermediateSize),
                             ("image_size", imageSize), ("patch_size", patchSize), ("num_channels", channelCount)]
        where value <= 0 {
            throw fields.invalid(key, "is \(value); must be positive")
        }
        guard hiddenSize % headCount == 0 else {
            throw fields.invalid("num_attention_heads", "(\(headCount)) does not divide hidden_size \(hiddenSize)")
        }
        guard imageSize % patchSize == 0 else {
            throw fields.invalid("patch_size", "(\(patchSize)) does not divide image_size \(imageSize)")
        }
    }
}

/// The language-model configuration (`llm_config`).
public struct LanguageModelConfiguration: Sendable, Equatable {
    /// Decoder architectures this build implements.
    public enum Architecture: String, Sendable, CaseIterable {
        case internLM2 = "InternLM2ForCausalLM"
    }

    /// Rotary-embedding scaling from `rope_scaling`.
    public enum RopeScaling: Sendable, Equatable {
        /// Dynamic NTK: the base grows once the sequence exceeds `max_position_embeddings`.
        case dynamic(factor: Double)
        /// Positions divided by `factor`.
        case linear(factor: Double)
    }

    /// Architectures of the InternVL2 family not implemented yet, and the model that uses each.
    static let knownUnimplemented = [
        "Qwen2ForCausalLM": "InternVL2-1B",
        "Phi3ForCausalLM": "InternVL2-4B",
        "LlamaForCausalLM": "InternVL2-40B / InternVL2-Llama3-76B",
    ]

    public var architecture: Architecture
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var intermediateSize: Int
    public var rmsNormEpsilon: Double
    public var maxPositionEmbeddings: Int
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var vocabularySize: Int
    public var bias: Bool
    public var tieWordEmbeddings: Bool
    public var bosTokenID: Int
    public var eosTokenID: Int
    public var padTokenID: Int

    /// Per-head width.
    public var headDim: Int { hiddenSize / headCount }
    /// Query heads per key/value head.
    public var groupSize: Int { headCount / kvHeadCount }

    init(fields: JSONFields) throws {
        let architectures = try fields.strings("architectures")
        guard let name = architectures.first else { throw fields.invalid("architectures", "is empty") }
        guard let architecture = Architecture(rawValue: name) else {
            let model = Self.knownUnimplemented[name].map { " (used by \($0))" } ?? ""
            throw fields.invalid(
                "architectures",
                "names \(name)\(model), which is not implemented yet; implemented: \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.architecture = architecture
        hiddenSize = try fields.int("hidden_size")
        layerCount = try fields.int("num_hidden_layers")
        headCount = try fields.int("num_attention_heads")
        kvHeadCount = try fields.int("num_key_value_heads", default: headCount)
        intermediateSize = try fields.int("intermediate_size")
        let activation = try fields.string("hidden_act", default: "silu")
        guard activation == "silu" else {
            throw fields.invalid("hidden_act", "is '\(activation)'; only 'silu' is implemented")
        }
        rmsNormEpsilon = try fields.double("rms_norm_eps", default: 1e-6)
        maxPositionEmbeddings = try fields.int("max_position_embeddings", default: 2048)
        ropeTheta = try fields.double("rope_theta", default: 10000)
        if let scaling = try fields.optionalObject("rope_scaling") {
            let type = try scaling.string("type")
            let factor = try scaling.double("factor")
            guard factor >= 1 else { throw scaling.invalid("factor", "is \(factor); must be >= 1") }
            switch type {
            case "dynamic": ropeScaling = .dynamic(factor: factor)
            case "linear": ropeScaling = .linear(factor: factor)
            default: throw scaling.invalid("type", "is '\(type)'; expected 'dynamic' or 'linear'")
            }
        } else {
            ropeScaling = nil
        }
        vocabularySize = try fields.int("vocab_size")
        bias = try fields.bool("bias", default: false)
        guard !bias else { throw fields.invalid("bias", "is true; InternLM2 with linear biases is not implemented") }
        tieWordEmbeddings = try fields.bool("tie_word_embeddings", default: false)
        bosTokenID = try fields.int("bos_token_id", default: 1)
        eosTokenID = try fields.int("eos_token_id", default: 2)
        padTokenID = try fields.int("pad_token_id", default: 0)
        for (key, value) in [("hidden_size", hiddenSize), ("num_hidden_layers", layerCount),
                             ("num_attention_heads", headCount), ("num_key_value_heads", kvHeadCount),
                             ("intermediate_size", intermediateSize), ("vocab_size", vocabularySize),
                             ("max_position_embeddings", maxPositionEmbeddings)]
        where value <= 0 {
            throw fields.invalid(key, "is \(value); must be positive")
        }
        guard hiddenSize % headCount == 0 else {
            throw fields.invalid("num_attention_heads", "(\(headCount)) does not divide hidden_size \(hiddenSize)")
        }
        guard headDim % 2 == 0 else { throw fields.invalid("hidden_size", "gives an odd head_dim \(headDim); RoPE needs it even") }
        guard headCount % kvHeadCount == 0 else {
            throw fields.invalid("num_key_value_heads", "(\(kvHeadCount)) does not divide num_attention_heads \(headCount)")
        }
        guard ropeTheta > 0 else { throw fields.invalid("rope_theta", "is \(ropeTheta); must be positive") }
    }
}
