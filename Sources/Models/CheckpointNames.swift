import Checkpoint
import Kernels

/// The HF tensor names of an InternVL2 checkpoint: the only place they are spelled out.
enum CheckpointNames {
    enum Vision {
        static let prefix = "vision_model."
        static let classEmbedding = prefix + "embeddings.class_embedding"
        static let patchWeight = prefix + "embeddings.patch_embedding.weight"
        static let patchBias = prefix + "embeddings.patch_embedding.bias"
        static let positionEmbedding = prefix + "embeddings.position_embedding"
        static func layer(_ n: Int) -> String { prefix + "encoder.layers.\(n)." }
    }

    enum Projector {
        static let norm = "mlp1.0"
        static let first = "mlp1.1"
        static let second = "mlp1.3"
    }

    enum Language {
        static let prefix = "language_model."
        static let tokenEmbeddings = prefix + "model.tok_embeddings.weight"
        static let finalNorm = prefix + "model.norm.weight"
        static let output = prefix + "output"
        static func layer(_ n: Int) -> String { prefix + "model.layers.\(n)." }
    }
}

/// Reads checkpoint tensors with their expected shapes: vectors as f32, Linear weights in `format`.
struct WeightLoader {
    let store: CheckpointStore
    /// Storage format of Linear weights (bf16 keeps a bf16 checkpoint exact at half the memory of f32).
    var format: WeightFormat = .bf16

    /// The tensor `name` as Floats; throws `CheckpointError` when it is missing or has another shape.
    func floats(_ name: String, shape: [Int]) throws -> [Float] {
        try store.tensor(name, shape: shape).floats()
    }

    /// The Linear `prefix.weight` [outFeatures, inFeatures] and, when `bias`, `prefix.bias` [outFeatures]; with
    /// `rowOrder`, stored row i is checkpoint row `rowOrder[i]` (a load-time reordering of the outputs).
    func linear(_ prefix: String, outFeatures: Int, inFeatures: Int, bias: Bool, rowOrder: [Int]? = nil) throws -> LinearWeight {
        try LinearWeight(
            tensor: store.tensor(prefix + ".weight", shape: [outFeatures, inFeatures]),
            outFeatures: outFeatures, inFeatures: inFeatures,
            bias: bias ? try floats(prefix + ".bias", shape: [outFeatures]) : nil, format: format, rowOrder: rowOrder)
    }
}

extension WeightLoader {
    /// The tensor `name` in a `FloatBuffer`.
    func buffer(_ name: String, shape: [Int]) throws -> FloatBuffer {
        FloatBuffer(try floats(name, shape: shape))
    }
}

extension CheckpointNames {
    /// Every tensor of an InternVL2 checkpoint with an InternViT (LayerNorm, qkv bias, no qk-norm) and an InternLM2
    /// decoder, with its shape, in checkpoint order (vision, mlp1, language model).
    static func tensorShapes(vision v: VisionConfiguration, llm l: LanguageModelConfiguration) -> [(name: String, shape: [Int])] {
        var result: [(String, [Int])] = []
        let d = v.hiddenSize, side = v.patchesPerSide
        result.append((Vision.classEmbedding, [1, 1, d]))
        result.append((Vision.patchWeight, [d, v.channelCount, v.patchSize, v.patchSize]))
        result.append((Vision.patchBias, [d]))
        result.append((Vision.positionEmbedding, [1, 1 + side * side, d]))
        for n in 0..<v.layerCount {
            let p = Vision.layer(n)
            result += [(p + "attn.qkv.weight", [3 * d, d]), (p + "attn.qkv.bias", [3 * d]),
                       (p + "attn.proj.weight", [d, d]), (p + "attn.proj.bias", [d]),
                       (p + "mlp.fc1.weight", [v.intermediateSize, d]), (p + "mlp.fc1.bias", [v.intermediateSize]),
                       (p + "mlp.fc2.weight", [d, v.intermediateSize]), (p + "mlp.fc2.bias", [d]),
                       (p + "norm1.weight", [d]), (p + "norm1.bias", [d]), (p + "norm2.weight", [d]), (p + "norm2.bias", [d]),
                       (p + "ls1", [d]), (p + "ls2", [d])]
        }
        let wide = 4 * d, h = l.hiddenSize
        result += [(Projector.norm + ".weight", [wide]), (Projector.norm + ".bias", [wide]),
                   (Projector.first + ".weight", [h, wide]), (Projector.first + ".bias", [h]),
                   (Projector.second + ".weight", [h, h]), (Projector.second + ".bias", [h])]
        result.append((Language.tokenEmbeddings, [l.vocabularySize, h]))
        for n in 0..<l.layerCount {
            let p = Language.layer(n)
            result += [(p + "attention.wqkv.weight", [(l.headCount + 2 * l.kvHeadCount) * l.headDim, h]),
                       (p + "attention.wo.weight", [h, l.headCount * l.headDim]),
                       (p + "feed_forward.w1.weight", [l.intermediateSize, h]),
                       (p + "feed_forward.w3.weight", [l.intermediateSize, h]),
                       (p + "feed_forward.w2.weight", [h, l.intermediateSize]),
                       (p + "attention_norm.weight", [h]), (p + "ffn_norm.weight", [h])]
        }
        result += [(Language.finalNorm, [h]), (Language.output + ".weight", [l.vocabularySize, h])]
        return result
    }
}
