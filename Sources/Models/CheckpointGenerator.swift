import Checkpoint
import Foundation

/// Writes a random-weight InternVL2 model directory in the real layout: `config.json` with the preset's dims
/// (same keys and nesting as the InternVL2 configs), bf16 safetensors with the HF tensor names (one file, or
/// shards plus `model.safetensors.index.json` above `maxShardBytes`). Deterministic for a seed; weights are scaled
/// so activations stay O(1). Tokenizer files are not written.
public struct CheckpointGenerator {
    /// Model sizes the generator knows.
    public enum Preset: String, CaseIterable, Sendable {
        /// The fixture's dims: ViT 64 wide x 2 layers, LLM 128 wide x 2 layers, vocab 1545.
        case tiny
        /// InternViT-300M + internlm2-chat-1.8B dims.
        case internVL2_2B = "internvl2-2b"
        /// InternViT-300M + internlm2.5-7B dims (MODEL.md section 2).
        case internVL2_8B = "internvl2-8b"
    }

    /// The model size.
    public var preset: Preset
    /// Seed of the weights.
    public var seed: UInt64
    /// Overrides `llm_config.max_position_embeddings` (e.g. small, to exercise dynamic NTK scaling).
    public var maxPositionEmbeddings: Int?
    /// Largest shard; a checkpoint above it is split into `model-0000k-of-0000n.safetensors` + index.
    public var maxShardBytes: Int

    /// A generator for `preset`.
    public init(preset: Preset, seed: UInt64 = 0, maxPositionEmbeddings: Int? = nil, maxShardBytes: Int = 5_000_000_000) {
        self.preset = preset
        self.seed = seed
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.maxShardBytes = maxShardBytes
    }

    struct Dimensions {
        var visionHidden, visionLayers, visionHeads, visionIntermediate: Int
        var hidden, layers, heads, kvHeads, intermediate, vocabulary: Int
    }

    var dimensions: Dimensions {
        switch preset {
        case .tiny:
            return Dimensions(visionHidden: 64, visionLayers: 2, visionHeads: 4, visionIntermediate: 128,
                              hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256, vocabulary: 1545)
        case .internVL2_2B:
            return Dimensions(visionHidden: 1024, visionLayers: 24, visionHeads: 16, visionIntermediate: 4096,
                              hidden: 2048, layers: 24, heads: 16, kvHeads: 8, intermediate: 8192, vocabulary: 92553)
        case .internVL2_8B:
            return Dimensions(visionHidden: 1024, visionLayers: 24, visionHeads: 16, visionIntermediate: 4096,
                              hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336, vocabulary: 92553)
        }
    }

    /// The `config.json` document of the preset.
    public func configurationJSON() throws -> Data {
        let d = dimensions
        let llm: [String: Any] = [
            "_name_or_path": preset == .internVL2_2B ? "internlm/internlm2-chat-1_8b" : "internlm/internlm2_5-7b-chat",
            "architectures": ["InternLM2ForCausalLM"], "model_type": "internlm2",
            "attn_implementation": "eager", "bias": false, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
            "hidden_act": "silu", "hidden_size": d.hidden, "intermediate_size": d.intermediate,
            "max_position_embeddings": maxPositionEmbeddings ?? 32768, "num_attention_heads": d.heads,
            "num_hidden_layers": d.layers, "num_key_value_heads": d.kvHeads, "rms_norm_eps": 1e-5,
            "rope_scaling": ["factor": 2.0, "type": "dynamic"] as [String: Any], "rope_theta": 1_000_000,
            "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true, "vocab_size": d.vocabulary,
        ]
        let vision: [String: Any] = [
            "architectures": ["InternVisionModel"], "model_type": "intern_vit_6b", "attention_dropout": 0.0,
            "drop_path_rate": 0.0, "dropout": 0.0, "hidden_act": "gelu", "hidden_size": d.visionHidden,
            "image_size": 448, "initializer_factor": 1.0, "initializer_range": 0.02,
            "intermediate_size": d.visionIntermediate, "layer_norm_eps": 1e-6, "norm_type": "layer_norm",
            "num_attention_heads": d.visionHeads, "num_channels": 3, "num_hidden_layers": d.visionLayers,
            "patch_size": 14, "qk_normalization": false, "qkv_bias": true, "torch_dtype": "bfloat16", "use_flash_attn": false,
        ]
        let top: [String: Any] = [
            "architectures": ["InternVLChatModel"], "model_type": "internvl_chat", "downsample_ratio": 0.5,
            "dynamic_image_size": true, "force_image_size": 448, "max_dynamic_patch": 12, "min_dynamic_patch": 1,
            "ps_version": "v2", "select_layer": -1, "template": "internlm2-chat", "torch_dtype": "bfloat16",
            "use_backbone_lora": 0, "use_llm_lora": 0, "use_thumbnail": true,
            "llm_config": llm, "vision_config": vision,
        ]
        return try JSONSerialization.data(withJSONObject: top, options: [.prettyPrinted, .sortedKeys])
    }

    /// Every tensor name and shape of the preset, in write order.
    public func tensorShapes() throws -> [(name: String, shape: [Int])] {
        let configuration = try InternVLConfiguration(json: configurationJSON())
        return CheckpointNames.tensorShapes(vision: configuration.vision, llm: configuration.llm)
    }

    /// Writes `config.json` and the weights into `directory` (created if needed). `progress` gets bytes written / total.
    public func write(to directory: URL, progress: ((Int, Int) -> Void)? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try configurationJSON().write(to: directory.appendingPathComponent("config.json"))
        let entries = try tensorShapes().map { entry(name: $0.name, shape: $0.shape) }
        var shards: [[SafetensorsWriter.Entry]] = [[]]
        var shardBytes = 0
        for entry in entries {
            if shardBytes > 0, shardBytes + entry.byteCount > maxShardBytes {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(entry)
            shardBytes += entry.byteCount
        }
        let total = entries.reduce(0) { $0 + $1.byteCount }
        var done = 0
        if shards.count == 1 {
            try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent(CheckpointStore.singleFileName)) {
                written, _ in progress?(written, total)
            }
            return
        }
        var weightMap: [String: String] = [:]
        for (index, shard) in shards.enumerated() {
            let name = String(format: "model-%05d-of-%05d.safetensors", index + 1, shards.count)
            for entry in shard { weightMap[entry.name] = name }
            let before = done
            try SafetensorsWriter.write(shard, metadata: ["format": "pt"], to: directory.appendingPathComponent(name)) {
                written, _ in progress?(before + written, total)
            }
            done += shard.reduce(0) { $0 + $1.byteCount }
        }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent(CheckpointStore.indexFileName))
    }

    /// How a tensor is initialised: `center + spread * u`, u uniform in [-1, 1).
    func initialisation(name: String, shape: [Int]) -> (center: Float, spread: Float) {
        let last = name.split(separator: ".").last.map(String.init) ?? name
        let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 1
        if name.hasSuffix("norm.weight") || name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight")
            || name.hasSuffix("mlp1.0.weight") || name.hasSuffix("_norm.weight") {
            return (1, 0.05)                                           // norm gains near 1
        }
        if last == "ls1" || last == "ls2" { return (0.1, 0.02) }         // layer scale
        if last == "bias" { return (0, 0.02) }
        if name.hasSuffix("tok_embeddings.weight") || name.hasSuffix("class_embedding") { return (0, 1) }
        if name.hasSuffix("position_embedding") { return (0, 0.1) }
        return (0, Float(3.0 / Double(fanIn)).squareRoot())           // unit-variance output for unit-variance input
    }

    func entry(name: String, shape: [Int]) -> SafetensorsWriter.Entry {
        let (center, spread) = initialisation(name: name, shape: shape)
        var nameHash: UInt64 = 0xcbf2_9ce4_8422_2325                  // FNV-1a of the name: a per-tensor stream
        for byte in name.utf8 { nameHash = (nameHash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let tensorSeed = seed ^ nameHash
        return SafetensorsWriter.Entry(name: name, dtype: .bf16, shape: shape) { buffer in
            var generator = SplitMix64(seed: tensorSeed)
            let count = buffer.count / 2
            for i in 0..<count {
                let value = center + spread * Float(generator.nextUnit() * 2 - 1)
                buffer.storeBytes(of: ElementConversion.bf16(value).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
    }
}
