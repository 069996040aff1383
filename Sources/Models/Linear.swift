import Checkpoint
import Foundation
import Kernels

/// The compute threads every model in this process uses (matmul is split over them).
public enum ComputeThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: ThreadPool?

    /// The shared pool (created on first use with one thread per active core).
    public static var pool: ThreadPool {
        lock.withLock {
            if let current { return current }
            let created = try! ThreadPool(threads: ProcessInfo.processInfo.activeProcessorCount)
            current = created
            return created
        }
    }

    /// Replaces the shared pool with one of `threads` threads (call before loading a model).
    public static func configure(threads: Int) throws {
        let pool = try ThreadPool(threads: threads)
        lock.withLock { current = pool }
    }
}

/// The weights of one linear layer: `matrix` is W [outFeatures, inFeatures] (PyTorch layout) in a kernel weight
/// format chosen at load; `bias` has `outFeatures` values when present.
public struct LinearWeight: @unchecked Sendable {
    /// Output width (rows of W).
    public let outFeatures: Int
    /// Input width (columns of W).
    public let inFeatures: Int
    /// W in its storage format.
    public let matrix: WeightMatrix
    /// [outFeatures], or nil for a bias-free layer.
    public let bias: FloatBuffer?

    /// Wraps f32 weights, stored in `format` (bf16 rounds to nearest even; exact for values read from bf16).
    public init(outFeatures: Int, inFeatures: Int, weight: [Float], bias: [Float]?, format: WeightFormat = .f32) throws {
        precondition(weight.count == outFeatures * inFeatures, "linear weight: \(weight.count) values for [\(outFeatures), \(inFeatures)]")
        precondition(bias == nil || bias!.count == outFeatures, "linear bias: \(bias!.count) values for \(outFeatures) outputs")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        matrix = try weight.withUnsafeBufferPointer {
            try WeightMatrix(rows: outFeatures, cols: inFeatures, format: Self.usable(format, cols: inFeatures),
                             f32: $0.baseAddress!, pool: ComputeThreads.pool)
        }
        self.bias = bias.map(FloatBuffer.init)
    }

    /// Converts a checkpoint tensor to `format` without an f32 copy when it is stored as bf16. With `rowOrder`
    /// (a permutation of the rows), stored row i is tensor row `rowOrder[i]`, and the bias follows the same order.
    init(tensor: TensorData, outFeatures: Int, inFeatures: Int, bias: [Float]?, format: WeightFormat,
         rowOrder: [Int]? = nil) throws {
        precondition(rowOrder.map { $0.count == outFeatures && Set($0) == Set(0..<outFeatures) } ?? true,
                     "linear row order: not a permutation of \(outFeatures) rows")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        let usable = Self.usable(format, cols: inFeatures)
        func reordered<T>(_ values: [T]) -> [T] {
            guard let rowOrder else { return values }
            var result: [T] = []
            result.reserveCapacity(values.count)
            for row in rowOrder { result += values[(row * inFeatures)..<((row + 1) * inFeatures)] }
            return result
        }
        if tensor.dtype == .bf16 {
            let bits = reordered(tensor.bf16Bits())
            matrix = try bits.withUnsafeBufferPointer {
                try WeightMatrix(rows: outFeatures, cols: inFeatures, format: usable, bf16: $0.baseAddress!, pool: ComputeThreads.pool)
            }
        } else {
            let values = reordered(tensor.floats())
            matrix = try values.withUnsafeBufferPointer {
                try WeightMatrix(rows: outFeatures, cols: inFeatures, format: usable, f32: $0.baseAddress!, pool: ComputeThreads.pool)
            }
        }
        self.bias = bias.map { values in FloatBuffer(rowOrder.map { $0.map { values[$0] } } ?? values) }
    }

    /// Quantized formats need rows of whole 32-value blocks; other matrices keep bf16.
    static func usable(_ format: WeightFormat, cols: Int) -> WeightFormat {
        format.isQuantized && cols % format.blockSize != 0 ? .bf16 : format
    }
}

/// `out[r, :] = x[r, :] · weightᵀ + bias` for `rows` rows: x is [rows, inFeatures], out is [rows, outFeatures].
///
/// The one matrix-multiply seam of the model: every Linear (ViT qkv/proj/fc1/fc2, the patch-embedding conv as
/// im2col, mlp1, wqkv/wo/w1/w3/w2 and the output head) goes through the `Kernels` matmul here (GEMV for decode,
/// panel GEMM for prefill and vision, in the weight's format, over the shared compute threads).
public func linear(_ x: UnsafePointer<Float>, rows: Int, _ layer: LinearWeight, _ out: UnsafeMutablePointer<Float>) {
    guard rows > 0 else { return }
    matmul(x, rows: rows, layer.matrix, into: out, pool: ComputeThreads.pool)
    if let bias = layer.bias {
        ParallelOps.addBias(bias, rows: rows, width: layer.outFeatures, into: out)
    }
}
