import COpenBLAS

/// The weights of one linear layer, converted to f32 at load: `weight` is row-major [outFeatures, inFeatures]
/// (PyTorch layout), `bias` has `outFeatures` values when present.
public struct LinearWeight: Sendable {
    /// Output width (rows of `weight`).
    public let outFeatures: Int
    /// Input width (columns of `weight`).
    public let inFeatures: Int
    /// [outFeatures, inFeatures], row-major.
    public let weight: FloatBuffer
    /// [outFeatures], or nil for a bias-free layer.
    public let bias: FloatBuffer?

    /// Wraps converted weights; the counts must agree with the dimensions.
    public init(outFeatures: Int, inFeatures: Int, weight: [Float], bias: [Float]?) {
        precondition(weight.count == outFeatures * inFeatures, "linear weight: \(weight.count) values for [\(outFeatures), \(inFeatures)]")
        precondition(bias == nil || bias!.count == outFeatures, "linear bias: \(bias!.count) values for \(outFeatures) outputs")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.weight = FloatBuffer(weight)
        self.bias = bias.map(FloatBuffer.init)
    }
}

/// `out[r, :] = x[r, :] · weightᵀ + bias` for `rows` rows: x is [rows, inFeatures], out is [rows, outFeatures].
///
/// The one matrix-multiply seam of the model: every Linear (ViT qkv/proj/fc1/fc2, the patch-embedding conv as
/// im2col, mlp1, wqkv/wo/w1/w3/w2 and the output head) goes through here. Interim implementation: OpenBLAS
/// `cblas_sgemm` on f32 weights; the `Kernels` module will replace it with per-format GEMM/GEMV.
public func linear(_ x: UnsafePointer<Float>, rows: Int, _ layer: LinearWeight, _ out: UnsafeMutablePointer<Float>) {
    guard rows > 0 else { return }
    let n = layer.outFeatures
    let k = layer.inFeatures
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(k),
                1, x, Int32(k), layer.weight.pointer, Int32(k), 0, out, Int32(n))
    if let bias = layer.bias?.pointer {
        for r in 0..<rows {
            let row = out + r * n
            for j in 0..<n { row[j] += bias[j] }
        }
    }
}
