import Checkpoint
import Foundation

/// Writes a random-weight InternVL2 model directory in the real layout (config.json, safetensors shards with
/// `model.safetensors.index.json` when large, tokenizer.model and the tokenizer JSON files), so the whole system can
/// run and be measured without a 16 GB download. Weights are deterministic for a seed.
public struct RandomCheckpoint {
    public var preset: ModelPreset
    public var dtype: TensorDType
    public var seed: UInt64
    /// Overrides `max_position_embeddings` (small values exercise dynamic NTK scaling).
    public var maxPositions: Int?
    /// Largest shard in bytes before a new one starts.
    public var shardBytes = 4_900_000_000

    public init(preset: ModelPreset, dtype: TensorDType = .bf16, seed: UInt64 = 1234, maxPositions: Int? = nil) {
        self.preset = preset
        self.dtype = dtype
        self.seed = seed
        self.maxPositions = maxPositions
    }

    /// A tensor to generate: name, shape, and how its values are drawn.
    struct Spec {
        enum Fill { case uniform(Float), constant(Float), around(Float, Float) }
        var name: String
        var shape: [Int]
        var fill: Fill
    }

    /// Every tensor of the checkpoint, in the order the real files list them.
    var specs: [Spec] {
        let v = preset.vision, l = preset.language
        let std: Float = 0.02
        let weight = Spec.Fill.uniform(std * 3.0.squareRoot().asFloat)
        var specs: [Spec] = [
            Spec(name: "vision_model.embeddings.class_embedding", shape: [1, 1, v.hidden], fill: weight),
            Spec(name: "vision_model.embeddings.patch_embedding.weight", shape: [v.hidden, 3, 14, 14], fill: weight),
            Spec(name: "vision_model.embeddings.patch_embedding.bias", shape: [v.hidden], fill: .uniform(0.01)),
            Spec(name: "vision_model.embeddings.position_embedding", shape: [1, 1025, v.hidden], fill: weight),
        ]
        for layer in 0..<v.layers {
            let p = "vision_model.encoder.layers.\(layer)."
            specs += [
                Spec(name: p + "attn.qkv.weight", shape: [3 * v.hidden, v.hidden], fill: weight),
                Spec(name: p + "attn.qkv.bias", shape: [3 * v.hidden], fill: .uniform(0.01)),
                Spec(name: p + "attn.proj.weight", shape: [v.hidden, v.hidden], fill: weight),
                Spec(name: p + "attn.proj.bias", shape: [v.hidden], fill: .uniform(0.01)),
                Spec(name: p + "mlp.fc1.weight", shape: [v.intermediate, v.hidden], fill: weight),
                Spec(name: p + "mlp.fc1.bias", shape: [v.intermediate], fill: .uniform(0.01)),
                Spec(name: p + "mlp.fc2.weight", shape: [v.hidden, v.intermediate], fill: weight),
                Spec(name: p + "mlp.fc2.bias", shape: [v.hidden], fill: .uniform(0.01)),
                Spec(name: p + "norm1.weight", shape: [v.hidden], fill: .around(1, 0.1)),
                Spec(name: p + "norm1.bias", shape: [v.hidden], fill: .uniform(0.01)),
                Spec(name: p + "norm2.weight", shape: [v.hidden], fill: .around(1, 0.1)),
                Spec(name: p + "norm2.bias", shape: [v.hidden], fill: .uniform(0.01)),
                Spec(name: p + "ls1", shape: [v.hidden], fill: .around(0.1, 0.02)),
                Spec(name: p + "ls2", shape: [v.hidden], fill: .around(0.1, 0.02)),
            ]
        }
        let projectorIn = 4 * v.hidden
        specs += [
            Spec(name: "mlp1.0.weight", shape: [projectorIn], fill: .around(1, 0.1)),
            Spec(name: "mlp1.0.bias", shape: [projectorIn], fill: .uniform(0.01)),
            Spec(name: "mlp1.1.weight", shape: [l.hidden, projectorIn], fill: weight),
            Spec(name: "mlp1.1.bias", shape: [l.hidden], fill: .uniform(0.01)),
            Spec(name: "mlp1.3.weight", shape: [l.hidden, l.hidden], fill: weight),
            Spec(name: "mlp1.3.bias", shape: [l.hidden], fill: .uniform(0.01)),
            Spec(name: "language_model.model.tok_embeddings.weight", shape: [preset.vocabularySize, l.hidden], fill: weight),
        ]
        let headDim = l.hidden / l.heads
        for layer in 0..<l.layers {
            let p = "language_model.model.layers.\(layer)."
            specs += [
                Spec(name: p + "attention.wqkv.weight", shape: [(l.heads + 2 * l.kvHeads) * headDim, l.hidden], fill: weight),
                Spec(name: p + "attention.wo.weight", shape: [l.hidden, l.hidden], fill: weight),
                Spec(name: p + "feed_forward.w1.weight", shape: [l.intermediate, l.hidden], fill: weight),
                Spec(name: p + "feed_forward.w3.weight", shape: [l.intermediate, l.hidden], fill: weight),
                Spec(name: p + "feed_forward.w2.weight", shape: [l.hidden, l.intermediate], fill: weight),
                Spec(name: p + "attention_norm.weight", shape: [l.hidden], fill: .around(1, 0.1)),
                Spec(name: p + "ffn_norm.weight", shape: [l.hidden], fill: .around(1, 0.1)),
            ]
        }
        specs += [
            Spec(name: "language_model.model.norm.weight", shape: [l.hidden], fill: .around(1, 0.1)),
            Spec(name: "language_model.output.weight", shape: [preset.vocabularySize, l.hidden], fill: weight),
        ]
        return specs
    }

    /// Total bytes of the weights.
    public var weightBytes: Int { specs.reduce(0) { $0 + $1.shape.reduce(1, *) * dtype.byteSize } }

    /// Writes the model into `directory` (created if needed). `progress(bytesWritten, totalBytes)`.
    public func write(to directory: URL, progress: ((Int, Int) -> Void)? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pieces = preset.language.sentencePiecePieces
        let positions = maxPositions ?? preset.language.maxPositions
        try ModelConfigWriter.write(ModelConfigWriter.configJSON(preset, maxPositions: positions),
                                    to: directory.appendingPathComponent("config.json"))
        try ModelConfigWriter.write(ModelConfigWriter.generationConfigJSON(sentencePiecePieces: pieces),
                                    to: directory.appendingPathComponent("generation_config.json"))
        try ModelConfigWriter.write(ModelConfigWriter.tokenizerConfigJSON(sentencePiecePieces: pieces),
                                    to: directory.appendingPathComponent("tokenizer_config.json"))
        try ModelConfigWriter.write(ModelConfigWriter.addedTokensJSON(sentencePiecePieces: pieces),
                                    to: directory.appendingPathComponent("added_tokens.json"))
        try ModelConfigWriter.write(ModelConfigWriter.specialTokensMapJSON(),
                                    to: directory.appendingPathComponent("special_tokens_map.json"))
        try TokenizerModelBuilder.build(pieceCount: pieces).write(to: directory.appendingPathComponent("tokenizer.model"))

        // Group tensors into shards of at most `shardBytes`.
        var shards: [[Spec]] = [[]]
        var shardSize = 0
        for spec in specs {
            let bytes = spec.shape.reduce(1, *) * dtype.byteSize
            if shardSize + bytes > shardBytes && !shards[shards.count - 1].isEmpty {
                shards.append([])
                shardSize = 0
            }
            shards[shards.count - 1].append(spec)
            shardSize += bytes
        }
        let total = weightBytes
        var done = 0
        var weightMap: [String: String] = [:]
        for (index, shard) in shards.enumerated() {
            let fileName = shards.count == 1 ? CheckpointStore.singleFileName
                : String(format: "model-%05d-of-%05d.safetensors", index + 1, shards.count)
            let entries = shard.map { spec in
                SafetensorsWriter.Entry(name: spec.name, dtype: dtype, shape: spec.shape) { buffer in
                    Self.fill(buffer, spec: spec, dtype: dtype, seed: seed)
                }
            }
            let before = done
            try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent(fileName)) { written, _ in
                done = before + written
                progress?(done, total)
            }
            for spec in shard { weightMap[spec.name] = fileName }
        }
        if shards.count > 1 {
            try ModelConfigWriter.write(["metadata": ["total_size": total], "weight_map": weightMap],
                                        to: directory.appendingPathComponent(CheckpointStore.indexFileName))
        }
    }

    /// Fills a tensor's bytes from a generator seeded by the model seed and the tensor name.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, spec: Spec, dtype: TensorDType, seed: UInt64) {
        var state = seed ^ SHA256.hex(Array(spec.name.utf8)).prefix(16).withCString { strtoull($0, nil, 16) }
        func next() -> Float {
            // SplitMix64, top 24 bits as a uniform value in [-1, 1).
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 23) - 1
        }
        let count = spec.shape.reduce(1, *)
        for i in 0..<count {
            let value: Float
            switch spec.fill {
            case .uniform(let bound): value = next() * bound
            case .constant(let constant): value = constant
            case .around(let center, let spread): value = center + next() * spread
            }
            switch dtype {
            case .bf16: buffer.storeBytes(of: ElementConversion.bf16(value), toByteOffset: 2 * i, as: UInt16.self)
            case .f16: buffer.storeBytes(of: Float16(value).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
            case .f32: buffer.storeBytes(of: value, toByteOffset: 4 * i, as: Float.self)
            }
        }
    }
}

private extension Double {
    var asFloat: Float { Float(self) }
}
