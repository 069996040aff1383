import Checkpoint

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

/// Reads checkpoint tensors as f32 arrays with their expected shapes (the interim weight format).
struct WeightLoader {
    let store: CheckpointStore

    /// The tensor `name` as Floats; throws `CheckpointError` when it is missing or has another shape.
    func floats(_ name: String, shape: [Int]) throws -> [Float] {
        try store.tensor(name, shape: shape).floats()
    }

    /// The Linear `prefix.weight` [outFeatures, inFeatures] and, when `bias`, `prefix.bias` [outFeatures].
    func linear(_ prefix: String, outFeatures: Int, inFeatures: Int, bias: Bool) throws -> LinearWeight {
        LinearWeight(
            outFeatures: outFeatures, inFeatures: inFeatures,
            weight: try floats(prefix + ".weight", shape: [outFeatures, inFeatures]),
            bias: bias ? try floats(prefix + ".bias", shape: [outFeatures]) : nil)
    }
}

extension WeightLoader {
    /// The tensor `name` in a `FloatBuffer`.
    func buffer(_ name: String, shape: [Int]) throws -> FloatBuffer {
        FloatBuffer(try floats(name, shape: shape))
    }
}
