import Checkpoint
import Kernels

/// The vision-to-language projector of InternVL2 (`extract_feature` after the ViT): drop the class token,
/// pixel shuffle v2 (2x2 patches → one token of 4D channels), then `mlp1` = LayerNorm(4D, eps 1e-5) → Linear →
/// exact GELU → Linear, giving one LLM-width embedding per token.
public final class Projector {
    /// ViT width D.
    public let visionHidden: Int
    /// LLM width.
    public let languageHidden: Int
    let normWeight: FloatBuffer      // mlp1.0 [4D]
    let normBias: FloatBuffer        // [4D]
    let first: LinearWeight          // mlp1.1 [H, 4D]
    let second: LinearWeight         // mlp1.3 [H, H]
    /// mlp1's LayerNorm epsilon: PyTorch's default 1e-5 (not the ViT's layer_norm_eps).
    public static let normEpsilon: Float = 1e-5

    /// Loads `mlp1.*` for pixel shuffle v2 with scale 0.5 (the only variant InternVL2 uses).
    public init(store: CheckpointStore, configuration: InternVLConfiguration, weightFormat: WeightFormat = .bf16) throws {
        guard configuration.pixelShuffleVersion == "v2" else {
            throw ModelError.unsupported(field: "ps_version", value: "'\(configuration.pixelShuffleVersion)' (only 'v2')")
        }
        guard configuration.downsampleRatio == 0.5 else {
            throw ModelError.unsupported(field: "downsample_ratio", value: "\(configuration.downsampleRatio) (only 0.5)")
        }
        visionHidden = configuration.vision.hiddenSize
        languageHidden = configuration.llm.hiddenSize
        let wide = 4 * visionHidden
        let load = WeightLoader(store: store, format: weightFormat)
        let names = CheckpointNames.Projector.self
        normWeight = try load.buffer(names.norm + ".weight", shape: [wide])
        normBias = try load.buffer(names.norm + ".bias", shape: [wide])
        first = try load.linear(names.first, outFeatures: languageHidden, inFeatures: wide, bias: true)
        second = try load.linear(names.second, outFeatures: languageHidden, inFeatures: languageHidden, bias: true)
    }

    /// Projects ViT hidden states `vision` [tiles, 1 + gridRows*gridCols, D] (cls first) to
    /// `vit_embeds` [tiles, gridRows/2 * gridCols/2, H]; both grid sides must be even.
    public func forward(_ vision: [Float], tiles: Int, gridRows: Int, gridCols: Int) throws -> [Float] {
        let d = visionHidden
        let patches = gridRows * gridCols
        guard gridRows % 2 == 0, gridCols % 2 == 0 else {
            throw ModelError.badShape(what: "projector input grid", expected: "even rows and columns", got: "\(gridRows)x\(gridCols)")
        }
        guard vision.count == tiles * (1 + patches) * d else {
            throw ModelError.badShape(what: "projector input", expected: "\(tiles * (1 + patches) * d) values for [\(tiles), \(1 + patches), \(d)]",
                                      got: "\(vision.count)")
        }
        let tokensPerTile = patches / 4
        let rows = tiles * tokensPerTile
        let shuffled = FloatBuffer(count: rows * 4 * d)
        let normed = FloatBuffer(count: rows * 4 * d)
        let middle = FloatBuffer(count: rows * languageHidden)
        var output = [Float](repeating: 0, count: rows * languageHidden)
        vision.withUnsafeBufferPointer { source in
            let shuffledRows = UnsafeMutableBufferPointer(start: shuffled.pointer, count: rows * 4 * d)
            for t in 0..<tiles {
                let patchGrid = UnsafeBufferPointer(rebasing: source[((t * (1 + patches) + 1) * d)...].prefix(patches * d))   // skip the cls token
                let target = UnsafeMutableBufferPointer(rebasing: shuffledRows[(t * tokensPerTile * 4 * d)..<((t + 1) * tokensPerTile * 4 * d)])
                ParallelOps.checked { () throws(OpsError) in
                    try Ops.pixelShuffleV2(patchGrid, into: target, height: gridRows, width: gridCols, channels: d, images: 0..<1)
                }
            }
        }
        ParallelOps.layerNorm(shuffled.pointer, rows: rows, width: 4 * d, weight: normWeight, bias: normBias,
                              epsilon: Self.normEpsilon, into: normed.pointer)
        linear(normed.pointer, rows: rows, first, middle.pointer)
        ParallelOps.gelu(middle.pointer, rows: rows, width: languageHidden)
        output.withUnsafeMutableBufferPointer { linear(middle.pointer, rows: rows, second, $0.baseAddress!) }
        return output
    }
}
