/// Namespace of the transformer op kernels (norms, RoPE, softmax, attention, activations, pixel shuffle,
/// bicubic resize). Each function checks its arguments, then calls the C kernel of the active dispatch level.
public enum Ops {}

extension Ops {
    /// Floats a row-strided buffer needs for rows `rows` of `width` values each, `stride` apart.
    @inline(__always)
    static func floatsNeeded(rows: Range<Int>, stride: Int, width: Int) -> Int {
        rows.isEmpty ? 0 : (rows.upperBound - 1) * stride + width
    }

    @inline(__always)
    static func check(_ op: String, _ argument: String, count: Int, needed: Int) throws(OpsError) {
        if count < needed {
            throw .bufferTooSmall(op: op, argument: argument, needed: needed, available: count)
        }
    }

    @inline(__always)
    static func require(_ condition: Bool, _ op: String, _ argument: String, _ value: Int, _ requirement: String)
        throws(OpsError)
    {
        if !condition {
            throw .invalidArgument(op: op, argument: argument, value: value, requirement: requirement)
        }
    }

    /// Checks a row range and row stride of a [rows, width] view.
    @inline(__always)
    static func checkRows(_ op: String, rows: Range<Int>, width: Int, strides: [(String, Int)]) throws(OpsError) {
        try require(rows.lowerBound >= 0, op, "rows.lowerBound", rows.lowerBound, ">= 0")
        try require(width >= 1, op, "dim", width, ">= 1")
        for (name, stride) in strides {
            try require(stride >= width, op, name, stride, ">= dim (\(width))")
        }
    }
}
