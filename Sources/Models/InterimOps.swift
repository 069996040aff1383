import Kernels
import Foundation

// Interim reference path: plain, obviously correct Swift implementations of the non-matmul operations of
// InternVL2. The `Kernels` module (SIMD C kernels with run-time dispatch) will replace these; until then they
// define the expected results. Every function works on raw row-major f32 buffers owned by the caller.

/// RMSNorm of `rows` rows of `width` values: `out = x / sqrt(mean(x²) + eps) * weight` (InternLM2, and InternViT-6B).
public func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, epsilon: Float,
                    _ out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = x + r * width
        let result = out + r * width
        var sumOfSquares: Double = 0
        for i in 0..<width { sumOfSquares += Double(row[i]) * Double(row[i]) }
        let scale = Float(1 / (sumOfSquares / Double(width) + Double(epsilon)).squareRoot())
        for i in 0..<width { result[i] = (row[i] * scale) * weight[i] }
    }
}

/// LayerNorm of `rows` rows of `width` values with affine weight and bias:
/// `out = (x - mean) / sqrt(var + eps) * weight + bias` (biased variance, like `nn.LayerNorm`).
public func layerNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>, epsilon: Float, _ out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = x + r * width
        let result = out + r * width
        var sum: Double = 0
        for i in 0..<width { sum += Double(row[i]) }
        let mean = sum / Double(width)
        var squares: Double = 0
        for i in 0..<width {
            let d = Double(row[i]) - mean
            squares += d * d
        }
        let inverseDeviation = 1 / (squares / Double(width) + Double(epsilon)).squareRoot()
        for i in 0..<width {
            result[i] = Float((Double(row[i]) - mean) * inverseDeviation) * weight[i] + bias[i]
        }
    }
}

/// In-place softmax over `count` values (max-subtracted, f32 result).
public func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    var maximum = x[0]
    for i in 1..<count where x[i] > maximum { maximum = x[i] }
    var sum: Double = 0
    for i in 0..<count {
        x[i] = Float(Foundation.exp(Double(x[i] - maximum)))
        sum += Double(x[i])
    }
    let inverse = Float(1 / sum)
    for i in 0..<count { x[i] *= inverse }
}

/// Row layouts of the query, key, value and output buffers of `attention`.
public struct AttentionLayout {
    /// Query heads.
    public var heads: Int
    /// Key/value heads; query head h reads key/value head h / (heads / kvHeads) (grouped-query attention).
    public var kvHeads: Int
    /// Width of one head.
    public var headDim: Int
    /// Floats between consecutive rows of q (and of out, which has `heads * headDim` columns).
    public var queryStride: Int
    /// Floats between consecutive rows of k and of v.
    public var keyStride: Int

    /// A layout; strides are in floats.
    public init(heads: Int, kvHeads: Int, headDim: Int, queryStride: Int, keyStride: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.queryStride = queryStride
        self.keyStride = keyStride
    }
}

/// Scaled dot-product attention: for each query row i and head h,
/// `out[i, h] = softmax(q[i, h] · k[j, h/G] / sqrt(headDim)) @ v[j, h/G]` over keys j.
///
/// - `causalOffset == nil`: bidirectional, every query sees all `keyCount` keys (InternViT).
/// - `causalOffset == p`: query i is at absolute position p + i and sees keys 0...p+i (decoder with a KV cache
///   holding p earlier positions); `keyCount` must be at least p + queryCount.
/// Head h of q starts at column h * headDim; key/value head g at column g * headDim.
/// `scores` is scratch of at least `keyCount` floats.
public func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                      queryCount: Int, keyCount: Int, layout: AttentionLayout, causalOffset: Int?,
                      scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    guard queryCount > 0 else { return }
    // The tiled C kernel (online softmax, no score matrix), query heads split over the compute threads.
    let shape = AttentionShape(
        queries: queryCount, keys: keyCount, heads: layout.heads, kvHeads: layout.kvHeads, headDim: layout.headDim,
        mask: causalOffset.map { .causal(queryOffset: $0) } ?? .bidirectional,
        qStride: layout.queryStride, kStride: layout.keyStride, vStride: layout.keyStride)
    let width = layout.heads * layout.headDim, kvWidth = layout.kvHeads * layout.headDim
    let qBuffer = UnsafeBufferPointer(start: q, count: (queryCount - 1) * layout.queryStride + width)
    let kBuffer = UnsafeBufferPointer(start: k, count: max(keyCount - 1, 0) * layout.keyStride + kvWidth)
    let vBuffer = UnsafeBufferPointer(start: v, count: max(keyCount - 1, 0) * layout.keyStride + kvWidth)
    let outBuffer = UnsafeMutableBufferPointer(start: out, count: queryCount * width)
    let pool = ComputeThreads.pool
    let scratchCount = Ops.attentionScratchCount(headDim: layout.headDim)
    let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: scratchCount * pool.threadCount)
    defer { scratch.deallocate() }
    pool.run(tasks: layout.heads) { head, thread in
        let mine = UnsafeMutableBufferPointer(rebasing: scratch[(thread * scratchCount)..<((thread + 1) * scratchCount)])
        do {
            try Ops.attention(q: qBuffer, k: kBuffer, v: vBuffer, out: outBuffer, shape: shape,
                              heads: head..<(head + 1), scratch: mine)
        } catch {
            preconditionFailure("attention: \(error)")
        }
    }
}

/// In-place exact GELU, `x * (1 + erf(x / sqrt(2))) / 2` (PyTorch `nn.GELU()` / transformers `gelu`).
public func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        let value = Double(x[i])
        x[i] = Float(0.5 * value * (1 + Foundation.erf(value / 2.0.squareRoot())))
    }
}

/// In-place gated SiLU of the InternLM2 MLP: `gate = silu(gate) * up`, with `silu(x) = x / (1 + exp(-x))`.
public func siluMultiply(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = gate[i]
        gate[i] = Float(Double(g) / (1 + Foundation.exp(-Double(g)))) * up[i]
    }
}

/// Pixel shuffle "v2" with scale 0.5 on one tile: `x` is a [gridRows, gridCols, channels] grid (row-major),
/// `out` is [gridRows/2, gridCols/2, 4*channels] with, for output cell (i, j), the channel blocks
/// `x[2i, 2j] | x[2i, 2j+1] | x[2i+1, 2j] | x[2i+1, 2j+1]`, cells emitted row-major (MODEL.md section 5).
public func pixelShuffleV2(_ x: UnsafePointer<Float>, gridRows: Int, gridCols: Int, channels: Int,
                           _ out: UnsafeMutablePointer<Float>) {
    precondition(gridRows % 2 == 0 && gridCols % 2 == 0, "pixel shuffle: grid \(gridRows)x\(gridCols) is not even")
    let outCols = gridCols / 2
    for i in 0..<(gridRows / 2) {
        for j in 0..<outCols {
            let cell = out + (i * outCols + j) * 4 * channels
            let sources = [(2 * i, 2 * j), (2 * i, 2 * j + 1), (2 * i + 1, 2 * j), (2 * i + 1, 2 * j + 1)]
            for (block, (row, column)) in sources.enumerated() {
                let source = x + (row * gridCols + column) * channels
                (cell + block * channels).update(from: source, count: channels)
            }
        }
    }
}

/// PyTorch `F.interpolate(mode='bicubic', align_corners=False)` (no antialias) of a channel-last grid:
/// `x` is [inRows, inCols, channels], `out` is [outRows, outCols, channels].
///
/// Source coordinate `scale * (o + 0.5) - 0.5` with `scale = in / out`; cubic convolution with A = -0.75 on the
/// four neighbours floor(s)-1 ... floor(s)+2, indices clamped to the border. At equal sizes it is the identity.
public func bicubicResize(_ x: UnsafePointer<Float>, inRows: Int, inCols: Int, channels: Int,
                          outRows: Int, outCols: Int, _ out: UnsafeMutablePointer<Float>) {
    func taps(outIndex: Int, inSize: Int, outSize: Int) -> (indices: [Int], weights: [Float]) {
        let scale = Float(inSize) / Float(outSize)
        let source = scale * (Float(outIndex) + 0.5) - 0.5
        let base = source.rounded(.down)
        let t = source - base
        let a: Float = -0.75
        func near(_ d: Float) -> Float { ((a + 2) * d - (a + 3)) * d * d + 1 }
        func far(_ d: Float) -> Float { ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
        let weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
        let indices = (-1...2).map { min(max(Int(base) + $0, 0), inSize - 1) }
        return (indices, weights)
    }
    let rowTaps = (0..<outRows).map { taps(outIndex: $0, inSize: inRows, outSize: outRows) }
    let columnTaps = (0..<outCols).map { taps(outIndex: $0, inSize: inCols, outSize: outCols) }
    for oy in 0..<outRows {
        for ox in 0..<outCols {
            let result = out + (oy * outCols + ox) * channels
            for c in 0..<channels { result[c] = 0 }
            for (ry, y) in rowTaps[oy].indices.enumerated() {
                for (rx, xIndex) in columnTaps[ox].indices.enumerated() {
                    let weight = rowTaps[oy].weights[ry] * columnTaps[ox].weights[rx]
                    let source = x + (y * inCols + xIndex) * channels
                    for c in 0..<channels { result[c] += weight * source[c] }
                }
            }
        }
    }
}
