import CKernels

extension Ops {
    /// `y[i] = erf(x[i])` over `range` (default: all of `x`). Vector paths are accurate to 1e-7 relative.
    public static func erf(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, range: Range<Int>? = nil
    ) throws(OpsError) {
        let r = range ?? 0..<x.count
        try checkElementwise("erf", r, [("x", x.count), ("y", y.count)])
        ck_erf_f32(x.baseAddress, y.baseAddress, r.lowerBound, r.upperBound)
    }

    /// Exact GELU, `y = (x * 0.5) * (1 + erf(x / sqrt(2)))`, over `range` (default: all of `x`). In place allowed.
    public static func gelu(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, range: Range<Int>? = nil
    ) throws(OpsError) {
        let r = range ?? 0..<x.count
        try checkElementwise("gelu", r, [("x", x.count), ("y", y.count)])
        ck_gelu_f32(x.baseAddress, y.baseAddress, r.lowerBound, r.upperBound)
    }

    /// SwiGLU gate: `out = (gate / (1 + exp(-gate))) * up` over `range` (default: all of `gate`).
    /// `out` may be the memory of `gate` or `up`.
    public static func siluMul(
        gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>,
        range: Range<Int>? = nil
    ) throws(OpsError) {
        let r = range ?? 0..<gate.count
        try checkElementwise("siluMul", r, [("gate", gate.count), ("up", up.count), ("out", out.count)])
        ck_silu_mul_f32(gate.baseAddress, up.baseAddress, out.baseAddress, r.lowerBound, r.upperBound)
    }

    /// `out = a + b` over `range` (default: all of `a`). `out` may be the memory of `a` or `b`.
    public static func add(
        _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>,
        range: Range<Int>? = nil
    ) throws(OpsError) {
        let r = range ?? 0..<a.count
        try checkElementwise("add", r, [("a", a.count), ("b", b.count), ("out", out.count)])
        ck_add_f32(a.baseAddress, b.baseAddress, out.baseAddress, r.lowerBound, r.upperBound)
    }

    /// Adds `bias` (dim floats) to rows `rows` of `x` (row `r` at `r * stride`, default `dim`).
    public static func addBias(
        _ x: UnsafeMutableBufferPointer<Float>, bias: UnsafeBufferPointer<Float>, dim: Int, rows: Range<Int>,
        stride: Int? = nil
    ) throws(OpsError) {
        let xs = stride ?? dim
        try checkRows("addBias", rows: rows, width: dim, strides: [("stride", xs)])
        try check("addBias", "x", count: x.count, needed: floatsNeeded(rows: rows, stride: xs, width: dim))
        try check("addBias", "bias", count: bias.count, needed: dim)
        ck_bias_add_f32(x.baseAddress, xs, bias.baseAddress, dim, rows.lowerBound, rows.upperBound)
    }

    /// Residual add over rows `rows`: `x += layerScale * y` per channel, or `x += y` when `layerScale` is nil.
    /// The product is rounded before the add, as PyTorch's `x + ls * y` does.
    public static func addResidual(
        _ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
        layerScale: UnsafeBufferPointer<Float>? = nil, dim: Int, rows: Range<Int>,
        xStride: Int? = nil, yStride: Int? = nil
    ) throws(OpsError) {
        let xs = xStride ?? dim, ys = yStride ?? dim
        try checkRows("addResidual", rows: rows, width: dim, strides: [("xStride", xs), ("yStride", ys)])
        try check("addResidual", "x", count: x.count, needed: floatsNeeded(rows: rows, stride: xs, width: dim))
        try check("addResidual", "y", count: y.count, needed: floatsNeeded(rows: rows, stride: ys, width: dim))
        if let layerScale {
            try check("addResidual", "layerScale", count: layerScale.count, needed: dim)
        }
        ck_residual_add_f32(
            x.baseAddress, xs, y.baseAddress, ys, layerScale?.baseAddress, dim, rows.lowerBound, rows.upperBound)
    }

    static func checkElementwise(_ op: String, _ range: Range<Int>, _ buffers: [(String, Int)]) throws(OpsError) {
        try require(range.lowerBound >= 0, op, "range.lowerBound", range.lowerBound, ">= 0")
        for (name, count) in buffers {
            try check(op, name, count: count, needed: range.upperBound)
        }
    }
}
