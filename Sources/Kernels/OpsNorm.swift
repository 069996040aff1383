import CKernels

extension Ops {
    /// RMSNorm of rows `rows`: `y = (x * (1 / sqrt(mean(x^2) + eps))) * weight`, row by row.
    ///
    /// Row `r` of `x` starts at `r * xStride` (default `dim`), of `y` at `r * yStride`. `x` and `y` may be the
    /// same memory (in place), with equal strides.
    public static func rmsNorm(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>,
        weight: UnsafeBufferPointer<Float>, dim: Int, eps: Float, rows: Range<Int>,
        xStride: Int? = nil, yStride: Int? = nil
    ) throws(OpsError) {
        let xs = xStride ?? dim, ys = yStride ?? dim
        try checkRows("rmsNorm", rows: rows, width: dim, strides: [("xStride", xs), ("yStride", ys)])
        try check("rmsNorm", "x", count: x.count, needed: floatsNeeded(rows: rows, stride: xs, width: dim))
        try check("rmsNorm", "y", count: y.count, needed: floatsNeeded(rows: rows, stride: ys, width: dim))
        try check("rmsNorm", "weight", count: weight.count, needed: dim)
        ck_rmsnorm_f32(
            x.baseAddress, xs, y.baseAddress, ys, weight.baseAddress, dim, eps, rows.lowerBound, rows.upperBound)
    }

    /// LayerNorm of rows `rows` with biased variance: `y = ((x - mean) / sqrt(var + eps)) * weight + bias`.
    ///
    /// Same layout rules as ``rmsNorm(_:into:weight:dim:eps:rows:xStride:yStride:)``; in place is allowed.
    public static func layerNorm(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>,
        weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>, dim: Int, eps: Float,
        rows: Range<Int>, xStride: Int? = nil, yStride: Int? = nil
    ) throws(OpsError) {
        let xs = xStride ?? dim, ys = yStride ?? dim
        try checkRows("layerNorm", rows: rows, width: dim, strides: [("xStride", xs), ("yStride", ys)])
        try check("layerNorm", "x", count: x.count, needed: floatsNeeded(rows: rows, stride: xs, width: dim))
        try check("layerNorm", "y", count: y.count, needed: floatsNeeded(rows: rows, stride: ys, width: dim))
        try check("layerNorm", "weight", count: weight.count, needed: dim)
        try check("layerNorm", "bias", count: bias.count, needed: dim)
        ck_layernorm_f32(
            x.baseAddress, xs, y.baseAddress, ys, weight.baseAddress, bias.baseAddress, dim, eps,
            rows.lowerBound, rows.upperBound)
    }
}
