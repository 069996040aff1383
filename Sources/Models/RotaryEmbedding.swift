import Checkpoint
import Foundation
import Kernels

/// InternLM2 rotary position embedding (HF "rotate half": dimension i pairs with i + headDim/2) with dynamic NTK
/// scaling, in float32 exactly as the reference computes it (MODEL.md section 7).
public struct RotaryEmbedding: Sendable {
    /// Rotated width (the head dimension).
    public let headDim: Int
    /// `rope_theta`, the unscaled base.
    public let theta: Double
    /// `max_position_embeddings`: above this total key length, dynamic scaling raises the base.
    public let maxPositionEmbeddings: Int
    /// Dynamic NTK factor, or nil without scaling.
    public let dynamicFactor: Double?

    /// The rotary embedding of `configuration`; linear scaling is not implemented (no InternVL2 model uses it).
    public init(configuration: LanguageModelConfiguration) throws {
        headDim = configuration.headDim
        theta = configuration.ropeTheta
        maxPositionEmbeddings = configuration.maxPositionEmbeddings
        switch configuration.ropeScaling {
        case nil: dynamicFactor = nil
        case let .dynamic(factor)?: dynamicFactor = factor
        case let .linear(factor)?:
            throw ModelError.unsupported(field: "llm_config.rope_scaling", value: "{type: linear, factor: \(factor)}")
        }
    }

    /// The base for a forward call whose keys span `kvLength` positions (past + current). Unchanged up to
    /// `maxPositionEmbeddings`; beyond it `theta * ((f * L / max) - (f - 1)) ^ (dim / (dim - 2))`.
    public func base(kvLength: Int) -> Double {
        guard let factor = dynamicFactor, kvLength > maxPositionEmbeddings else { return theta }
        let ratio = factor * Double(kvLength) / Double(maxPositionEmbeddings) - (factor - 1)
        return theta * pow(ratio, Double(headDim) / Double(headDim - 2))
    }

    /// `inv_freq[i] = 1 / base^(2i/dim)` for i in 0..<dim/2: the exponent in float32, the power in double rounded to
    /// float32, the reciprocal in float32 (how PyTorch evaluates `python_float ** float32_tensor`).
    public func inverseFrequencies(base: Double) -> [Float] {
        (0..<(headDim / 2)).map { i in
            Float(1) / Float(pow(base, Double(Float(2 * i) / Float(headDim))))
        }
    }

    /// The kernel cos/sin table for positions `0..<positions` with `base` (float32 angles `Float(t) * invFreq[i]`,
    /// the same rule as ``inverseFrequencies(base:)``), for `Ops.applyRope`.
    public func ropeTable(positions: Int, base: Double) throws -> RopeTable {
        try RopeTable(headDim: headDim, positions: positions, base: base)
    }
}
