import CKernels

extension Ops {
    /// Softmax of rows `rows` (max-subtracted, f32): `y[r] = exp(x[r] - max) / sum(exp(x[r] - max))`.
    ///
    /// Row `r` of `x` starts at `r * xStride` (default `dim`), of `y` at `r * yStride`. In place is allowed.
    /// `-infinity` entries get probability 0; every row needs at least one finite value.
    public static func softmax(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, dim: Int, rows: Range<Int>,
        xStride: Int? = nil, yStride: Int? = nil
    ) throws(OpsError) {
        let xs = xStride ?? dim, ys = yStride ?? dim
        try checkRows("softmax", rows: rows, width: dim, strides: [("xStride", xs), ("yStride", ys)])
        try check("softmax", "x", count: x.count, needed: floatsNeeded(rows: rows, stride: xs, width: dim))
        try check("softmax", "y", count: y.count, needed: floatsNeeded(rows: rows, stride: ys, width: dim))
        ck_softmax_f32(x.baseAddress, xs, y.baseAddress, ys, dim, rows.lowerBound, rows.upperBound)
    }
}
