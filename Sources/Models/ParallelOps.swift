import Kernels

/// The non-matmul ops of the model on raw row-major f32 buffers: each one calls the `Kernels.Ops` C kernel and,
/// when there are enough rows to pay for it, splits the rows over `ComputeThreads.pool`.
///
/// The buffers come from the model's own preallocated scratch, so an `OpsError` here is a programming error (a
/// shape the model computed wrongly) and stops the process with the op's message.
enum ParallelOps {
    /// Below this many floats an op runs on the calling thread (waking the pool costs more than it saves).
    static let parallelMinimumFloats = 32 * 1024

    /// Calls `body` on chunks of rows `0..<rows` (of `width` floats each), over the pool when the rows are many.
    static func forEachRowChunk(rows: Int, width: Int, _ body: (Range<Int>) -> Void) {
        guard rows > 0 else { return }
        let pool = ComputeThreads.pool
        guard pool.threadCount > 1, rows > 1, rows * width >= parallelMinimumFloats else {
            body(0..<rows)
            return
        }
        let chunks = min(rows, 4 * pool.threadCount)
        let chunkRows = (rows + chunks - 1) / chunks
        pool.run(tasks: (rows + chunkRows - 1) / chunkRows) { task, _ in
            body((task * chunkRows)..<min(rows, (task + 1) * chunkRows))
        }
    }

    /// Runs an op whose arguments the model built; a refusal is a bug, reported with the op's message.
    @inline(__always)
    static func checked(_ op: () throws(OpsError) -> Void) {
        do { try op() } catch { preconditionFailure("model op: \(error)") }
    }

    /// `out = RMSNorm(x) * weight` for `rows` rows of `width`; `out` may be `x`.
    static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: FloatBuffer, epsilon: Float,
                        into out: UnsafeMutablePointer<Float>) {
        let source = UnsafeBufferPointer(start: x, count: rows * width)
        let target = UnsafeMutableBufferPointer(start: out, count: rows * width)
        let scale = UnsafeBufferPointer(start: weight.pointer, count: weight.count)
        forEachRowChunk(rows: rows, width: width) { range in
            checked { () throws(OpsError) in
                try Ops.rmsNorm(source, into: target, weight: scale, dim: width, eps: epsilon, rows: range)
            }
        }
    }

    /// `out = LayerNorm(x) * weight + bias` (biased variance) for `rows` rows of `width`; `out` may be `x`.
    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: FloatBuffer, bias: FloatBuffer,
                          epsilon: Float, into out: UnsafeMutablePointer<Float>) {
        let source = UnsafeBufferPointer(start: x, count: rows * width)
        let target = UnsafeMutableBufferPointer(start: out, count: rows * width)
        let scale = UnsafeBufferPointer(start: weight.pointer, count: weight.count)
        let shift = UnsafeBufferPointer(start: bias.pointer, count: bias.count)
        forEachRowChunk(rows: rows, width: width) { range in
            checked { () throws(OpsError) in
                try Ops.layerNorm(source, into: target, weight: scale, bias: shift, dim: width, eps: epsilon, rows: range)
            }
        }
    }

    /// In-place exact GELU of `rows` rows of `width`.
    static func gelu(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let values = UnsafeMutableBufferPointer(start: x, count: rows * width)
        forEachRowChunk(rows: rows, width: width) { range in
            checked { () throws(OpsError) in
                try Ops.gelu(UnsafeBufferPointer(values), into: values, range: (range.lowerBound * width)..<(range.upperBound * width))
            }
        }
    }

    /// In-place SwiGLU gate of `rows` rows of `width`: `gate = silu(gate) * up`.
    static func siluMultiply(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, rows: Int, width: Int) {
        let gates = UnsafeMutableBufferPointer(start: gate, count: rows * width)
        let ups = UnsafeBufferPointer(start: up, count: rows * width)
        forEachRowChunk(rows: rows, width: width) { range in
            checked { () throws(OpsError) in
                try Ops.siluMul(gate: UnsafeBufferPointer(gates), up: ups, into: gates,
                                range: (range.lowerBound * width)..<(range.upperBound * width))
            }
        }
    }

    /// Residual add of `rows` rows of `width`: `x += branch`, or `x += layerScale * branch` per channel.
    static func addResidual(_ branch: UnsafePointer<Float>, layerScale: FloatBuffer? = nil, rows: Int, width: Int,
                            into x: UnsafeMutablePointer<Float>) {
        let residual = UnsafeMutableBufferPointer(start: x, count: rows * width)
        let added = UnsafeBufferPointer(start: branch, count: rows * width)
        let scale = layerScale.map { UnsafeBufferPointer(start: $0.pointer, count: $0.count) }
        forEachRowChunk(rows: rows, width: width) { range in
            checked { () throws(OpsError) in
                try Ops.addResidual(residual, added, layerScale: scale, dim: width, rows: range)
            }
        }
    }

    /// Adds `bias` to each of `rows` rows of `width`.
    static func addBias(_ bias: FloatBuffer, rows: Int, width: Int, into x: UnsafeMutablePointer<Float>) {
        let values = UnsafeMutableBufferPointer(start: x, count: rows * width)
        let shift = UnsafeBufferPointer(start: bias.pointer, count: bias.count)
        forEachRowChunk(rows: rows, width: width) { range in
            checked { () throws(OpsError) in
                try Ops.addBias(values, bias: shift, dim: width, rows: range)
            }
        }
    }
}
