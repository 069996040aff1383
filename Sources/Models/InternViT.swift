import Checkpoint
import Foundation
import Kernels

/// The LayerNorm (with bias) of an InternViT block.
struct VisionNorm {
    let weight: FloatBuffer
    let bias: FloatBuffer
    let epsilon: Float

    func apply(_ x: UnsafePointer<Float>, rows: Int, width: Int, _ out: UnsafeMutablePointer<Float>) {
        ParallelOps.layerNorm(x, rows: rows, width: width, weight: weight, bias: bias, epsilon: epsilon, into: out)
    }
}

/// One pre-norm InternViT block: `x += ls1 * Attn(norm1(x))`, then `x += ls2 * MLP(norm2(x))`.
struct VisionLayer {
    let norm1: VisionNorm
    let qkv: LinearWeight          // [3D, D]: rows [q(all heads) | k | v], read in place by attention
    let proj: LinearWeight         // [D, D]
    let layerScale1: FloatBuffer   // ls1 [D]
    let norm2: VisionNorm
    let fc1: LinearWeight          // [I, D]
    let fc2: LinearWeight          // [D, I]
    let layerScale2: FloatBuffer   // ls2 [D]
}

/// Activations of one tile through InternViT, allocated once per call and reused for every tile.
final class VisionScratch {
    let x, normed, qkv, attended, branch, mlp: FloatBuffer
    let attention: ParallelAttention

    init(tokens n: Int, hidden d: Int, intermediate i: Int, headDim: Int) {
        x = FloatBuffer(count: n * d)
        normed = FloatBuffer(count: n * d)
        qkv = FloatBuffer(count: n * 3 * d)
        attended = FloatBuffer(count: n * d)
        branch = FloatBuffer(count: n * d)
        mlp = FloatBuffer(count: n * i)
        attention = ParallelAttention(headDim: headDim)
    }
}

/// The result of running InternViT on a batch of tiles.
public struct VisionOutput {
    /// Tiles in the batch.
    public let tiles: Int
    /// Patch grid of each tile (rows = height / patch, columns = width / patch).
    public let gridRows: Int, gridCols: Int
    /// Tokens per tile: 1 (cls) + gridRows * gridCols.
    public var tokens: Int { 1 + gridRows * gridCols }
    /// The hidden state chosen by `selectLayer`, [tiles, tokens, hidden].
    public let selected: [Float]
    /// When requested, every hidden state: [0] = embeddings output, [i] = after block i; each [tiles, tokens, hidden].
    public let hiddenStates: [[Float]]?
}

/// InternViT-300M-448px (LayerNorm, no q/k norm; the InternViT-6B variant with RMSNorm and qk_normalization is
/// refused at load, not implemented yet): patch embedding as im2col + Linear, class token,
/// position embedding bicubic-resized to the input's patch grid, pre-norm blocks with layer scale. No final norm.
public final class InternViT {
    /// The vision configuration the weights were loaded for.
    public let configuration: VisionConfiguration
    let patchEmbedding: LinearWeight     // [D, C*p*p] (the conv kernel flattened as (c, ky, kx))
    let classEmbedding: FloatBuffer      // [D]
    let positionEmbedding: FloatBuffer   // [1 + S*S, D]: cls, then the S x S grid row-major
    let layers: [VisionLayer]
    /// Resized position tables by patch grid (rows, columns): computed once per input shape.
    private var positionTables: [[Int]: FloatBuffer] = [:]
    private let positionTablesLock = NSLock()

    /// Loads the `vision_model.*` tensors from `store`.
    public init(store: CheckpointStore, configuration: VisionConfiguration, weightFormat: WeightFormat = .bf16) throws {
        guard configuration.norm == .layerNorm else {
            throw ModelError.unsupported(field: "vision_config.norm_type", value: "'\(configuration.norm.rawValue)' (only 'layer_norm', InternViT-300M)")
        }
        guard !configuration.qkNormalization else {
            throw ModelError.unsupported(field: "vision_config.qk_normalization", value: "true (InternViT-6B)")
        }
        self.configuration = configuration
        let load = WeightLoader(store: store, format: weightFormat)
        let d = configuration.hiddenSize
        let c = configuration.channelCount
        let p = configuration.patchSize
        let side = configuration.patchesPerSide
        let names = CheckpointNames.Vision.self
        patchEmbedding = try LinearWeight(
            tensor: store.tensor(names.patchWeight, shape: [d, c, p, p]), outFeatures: d, inFeatures: c * p * p,
            bias: try load.floats(names.patchBias, shape: [d]), format: load.format)
        classEmbedding = try load.buffer(names.classEmbedding, shape: [1, 1, d])
        positionEmbedding = try load.buffer(names.positionEmbedding, shape: [1, 1 + side * side, d])
        let epsilon = Float(configuration.layerNormEpsilon)
        func norm(_ name: String) throws -> VisionNorm {
            VisionNorm(weight: try load.buffer(name + ".weight", shape: [d]), bias: try load.buffer(name + ".bias", shape: [d]),
                       epsilon: epsilon)
        }
        let i = configuration.intermediateSize
        layers = try (0..<configuration.layerCount).map { n in
            let prefix = names.layer(n)
            return VisionLayer(
                norm1: try norm(prefix + "norm1"),
                qkv: try load.linear(prefix + "attn.qkv", outFeatures: 3 * d, inFeatures: d, bias: configuration.qkvBias),
                proj: try load.linear(prefix + "attn.proj", outFeatures: d, inFeatures: d, bias: true),
                layerScale1: try load.buffer(prefix + "ls1", shape: [d]),
                norm2: try norm(prefix + "norm2"),
                fc1: try load.linear(prefix + "mlp.fc1", outFeatures: i, inFeatures: d, bias: true),
                fc2: try load.linear(prefix + "mlp.fc2", outFeatures: d, inFeatures: i, bias: true),
                layerScale2: try load.buffer(prefix + "ls2", shape: [d]))
        }
    }

    /// Index into the L+1 hidden states for `selectLayer` (Python negative indexing), or nil when out of range.
    public func hiddenStateIndex(selectLayer: Int) -> Int? {
        let count = layers.count + 1
        let index = selectLayer < 0 ? count + selectLayer : selectLayer
        return (0..<count).contains(index) ? index : nil
    }

    /// Runs the encoder on `pixelValues` [tiles, channels, height, width] (normalised f32; height and width
    /// multiples of the patch size) and returns hidden state `selectLayer` (-1 = last block), optionally all of them.
    public func forward(pixelValues: [Float], tiles: Int, height: Int, width: Int, selectLayer: Int = -1,
                        keepHiddenStates: Bool = false) throws -> VisionOutput {
        let p = configuration.patchSize
        let c = configuration.channelCount
        let d = configuration.hiddenSize
        guard tiles > 0, height > 0, width > 0, height % p == 0, width % p == 0 else {
            throw ModelError.badShape(what: "pixel_values", expected: "[tiles > 0, \(c), H, W] with H, W positive multiples of \(p)",
                                      got: "[\(tiles), \(c), \(height), \(width)]")
        }
        guard pixelValues.count == tiles * c * height * width else {
            throw ModelError.badShape(what: "pixel_values", expected: "\(tiles * c * height * width) values for [\(tiles), \(c), \(height), \(width)]",
                                      got: "\(pixelValues.count)")
        }
        guard let selectedIndex = hiddenStateIndex(selectLayer: selectLayer) else {
            throw ModelError.badParameter(name: "select_layer", value: "\(selectLayer)", rule: "must index the \(layers.count + 1) vision hidden states")
        }
        let gridRows = height / p
        let gridCols = width / p
        let n = 1 + gridRows * gridCols
        let positions = resizedPositionEmbedding(gridRows: gridRows, gridCols: gridCols)
        let scratch = VisionScratch(tokens: n, hidden: d, intermediate: configuration.intermediateSize,
                                    headDim: configuration.headDim)
        let patches = FloatBuffer(count: (n - 1) * c * p * p)
        let tileSize = n * d
        var selected = [Float](repeating: 0, count: tiles * tileSize)
        var hiddenStates: [[Float]]? = keepHiddenStates
            ? Array(repeating: [Float](repeating: 0, count: tiles * tileSize), count: layers.count + 1) : nil

        pixelValues.withUnsafeBufferPointer { pixels in
            for t in 0..<tiles {
                let image = pixels.baseAddress! + t * c * height * width
                im2col(image, height: height, width: width, into: patches.pointer)
                let x = scratch.x.pointer
                // Row 0 is the class token; patch rows follow, both plus their position embedding.
                linear(patches.pointer, rows: n - 1, patchEmbedding, x + d)
                x.update(from: classEmbedding.pointer, count: d)
                ParallelOps.addResidual(positions.pointer, rows: n, width: d, into: x)
                func record(_ index: Int) {
                    let source = UnsafeBufferPointer(start: x, count: tileSize)
                    if index == selectedIndex { selected.replaceSubrange(t * tileSize..<(t + 1) * tileSize, with: source) }
                    hiddenStates?[index].replaceSubrange(t * tileSize..<(t + 1) * tileSize, with: source)
                }
                record(0)
                let lastNeeded = keepHiddenStates ? layers.count : selectedIndex
                for (index, layer) in layers.prefix(lastNeeded).enumerated() {
                    forwardLayer(layer, tokens: n, scratch: scratch)
                    record(index + 1)
                }
            }
        }
        return VisionOutput(tiles: tiles, gridRows: gridRows, gridCols: gridCols, selected: selected, hiddenStates: hiddenStates)
    }

    /// Patch vectors of one tile: row (py * gridCols + px) holds pixels in (channel, ky, kx) order, like the conv kernel.
    private func im2col(_ image: UnsafePointer<Float>, height: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        let p = configuration.patchSize
        let c = configuration.channelCount
        var o = 0
        for py in 0..<(height / p) {
            for px in 0..<(width / p) {
                for channel in 0..<c {
                    for ky in 0..<p {
                        let row = image + channel * height * width + (py * p + ky) * width + px * p
                        for kx in 0..<p {
                            out[o] = row[kx]
                            o += 1
                        }
                    }
                }
            }
        }
    }

    /// The position table for a gridRows x gridCols input, [1 + rows*cols, D]: cls entry as stored, the S x S patch
    /// entries always passed through the bicubic resize (an identity at S x S).
    public func resizedPositionTable(gridRows: Int, gridCols: Int) -> [Float] {
        resizedPositionEmbedding(gridRows: gridRows, gridCols: gridCols).array
    }

    /// The cached position table of a grid, computing it on first use.
    func resizedPositionEmbedding(gridRows: Int, gridCols: Int) -> FloatBuffer {
        positionTablesLock.withLock {
            if let table = positionTables[[gridRows, gridCols]] { return table }
            let table = computePositionTable(gridRows: gridRows, gridCols: gridCols)
            positionTables[[gridRows, gridCols]] = table
            return table
        }
    }

    /// The stored S x S grid [S*S, D] moved to channel-first [D, S, S], bicubic-resized by `Ops.bicubicResize`,
    /// and moved back to [rows*cols, D] after the cls entry.
    private func computePositionTable(gridRows: Int, gridCols: Int) -> FloatBuffer {
        let d = configuration.hiddenSize
        let side = configuration.patchesPerSide
        let cells = side * side, outCells = gridRows * gridCols
        var channelFirst = [Float](repeating: 0, count: d * cells)
        for cell in 0..<cells {
            for channel in 0..<d { channelFirst[channel * cells + cell] = positionEmbedding.pointer[(1 + cell) * d + channel] }
        }
        let resized: [Float]
        do {
            resized = try Ops.bicubicResize(channelFirst, channels: d, height: side, width: side,
                                            outHeight: gridRows, outWidth: gridCols)
        } catch {
            preconditionFailure("position embedding resize: \(error)")
        }
        let table = FloatBuffer(count: (1 + outCells) * d)
        table.pointer.update(from: positionEmbedding.pointer, count: d)
        for cell in 0..<outCells {
            for channel in 0..<d { table.pointer[(1 + cell) * d + channel] = resized[channel * outCells + cell] }
        }
        return table
    }

    private func forwardLayer(_ layer: VisionLayer, tokens n: Int, scratch s: VisionScratch) {
        let d = configuration.hiddenSize
        let x = s.x.pointer
        // Attention branch: q, k and v are read in place from the packed [n, 3D] qkv rows.
        layer.norm1.apply(x, rows: n, width: d, s.normed.pointer)
        linear(s.normed.pointer, rows: n, layer.qkv, s.qkv.pointer)
        let heads = configuration.headCount
        s.attention.jobs.append(AttentionJob(
            queries: s.qkv.pointer, keys: s.qkv.pointer + d, values: s.qkv.pointer + 2 * d, output: s.attended.pointer,
            shape: AttentionShape(queries: n, keys: n, heads: heads, kvHeads: heads, headDim: configuration.headDim,
                                  mask: .bidirectional, qStride: 3 * d, kStride: 3 * d, vStride: 3 * d, outStride: d)))
        s.attention.run()
        linear(s.attended.pointer, rows: n, layer.proj, s.branch.pointer)
        ParallelOps.addResidual(s.branch.pointer, layerScale: layer.layerScale1, rows: n, width: d, into: x)
        // MLP branch.
        layer.norm2.apply(x, rows: n, width: d, s.normed.pointer)
        linear(s.normed.pointer, rows: n, layer.fc1, s.mlp.pointer)
        ParallelOps.gelu(s.mlp.pointer, rows: n, width: configuration.intermediateSize)
        linear(s.mlp.pointer, rows: n, layer.fc2, s.branch.pointer)
        ParallelOps.addResidual(s.branch.pointer, layerScale: layer.layerScale2, rows: n, width: d, into: x)
    }
}
