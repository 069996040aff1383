import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The libm functions under names RopeTable's `cos` / `sin` properties do not shadow.
private func libmCos(_ x: Double) -> Double { cos(x) }
private func libmSin(_ x: Double) -> Double { sin(x) }
private func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

/// Cos/sin tables of the rotary embedding (rotate-half convention), built exactly as the reference does:
/// `inv_freq[i] = Float(1) / Float(pow(Double(base), Double(Float(2i) / Float(dim))))`, the angle
/// `Float(t) * inv_freq[i]` rounded to float, then its cosine and sine rounded to float.
public struct RopeTable: Sendable {
    /// Head dimension the table serves (even).
    public let headDim: Int
    /// Positions 0 ..< positions are covered.
    public let positions: Int
    /// The rotary base the frequencies come from (rope_theta, or a dynamic-NTK base).
    public let base: Double
    /// cos of the angles, [positions, headDim / 2] row-major.
    public let cos: [Float]
    /// sin of the angles, [positions, headDim / 2] row-major.
    public let sin: [Float]

    /// Builds the table for positions 0 ..< positions.
    public init(headDim: Int, positions: Int, base: Double) throws(OpsError) {
        try Ops.require(headDim >= 2 && headDim % 2 == 0, "RopeTable", "headDim", headDim, "even and >= 2")
        try Ops.require(positions >= 1, "RopeTable", "positions", positions, ">= 1")
        try Ops.require(base.isFinite && base > 1, "RopeTable", "base", Int(exactly: base.rounded(.down)) ?? 0,
                        "finite and > 1")
        self.headDim = headDim
        self.positions = positions
        self.base = base
        let half = headDim / 2
        let inv = RopeTable.inverseFrequencies(headDim: headDim, base: base)
        var c = [Float](repeating: 0, count: positions * half)
        var s = [Float](repeating: 0, count: positions * half)
        for t in 0..<positions {
            for i in 0..<half {
                let angle = Float(t) * inv[i]
                c[t * half + i] = Float(libmCos(Double(angle)))
                s[t * half + i] = Float(libmSin(Double(angle)))
            }
        }
        self.cos = c
        self.sin = s
    }

    /// `inv_freq[i] = Float(1) / Float(pow(Double(base), Double(Float(2i) / Float(headDim))))`, i < headDim / 2:
    /// the exponent in float, the power in double rounded to float, the reciprocal in float (as PyTorch computes
    /// `1.0 / (base ** (arange(0, dim, 2).float() / dim))` with a Python-number base).
    public static func inverseFrequencies(headDim: Int, base: Double) -> [Float] {
        (0..<(headDim / 2)).map { i in
            let exponent = Float(2 * i) / Float(headDim)
            return Float(1) / Float(libmPow(base, Double(exponent)))
        }
    }

    /// The dynamic-NTK rotary base for a total key length `seqLen` (past + current, padding included).
    ///
    /// While `seqLen <= maxPositions` the base is `theta` unchanged; beyond it (InternLM2 `dynamic` scaling,
    /// all in Double): `theta * ((factor * seqLen / maxPositions) - (factor - 1)) ^ (headDim / (headDim - 2))`.
    public static func dynamicNTKBase(
        theta: Double, factor: Double, seqLen: Int, maxPositions: Int, headDim: Int
    ) -> Double {
        guard seqLen > maxPositions else { return theta }
        let ratio = factor * Double(seqLen) / Double(maxPositions) - (factor - 1)
        return theta * libmPow(ratio, Double(headDim) / Double(headDim - 2))
    }
}

extension Ops {
    /// Rotates, in place, every head of rows `rows` of `x` by RoPE (rotate-half pairs (i, i + d/2)) at the
    /// positions `positions[r]`. Row `r` holds `heads` heads of `table.headDim` floats starting at `r * rowStride`
    /// (default heads * headDim). Bit-identical on every dispatch level.
    public static func applyRope(
        _ x: UnsafeMutableBufferPointer<Float>, heads: Int, rows: Range<Int>, positions: UnsafeBufferPointer<Int32>,
        table: RopeTable, rowStride: Int? = nil
    ) throws(OpsError) {
        let op = "applyRope", width = heads * table.headDim
        let stride = rowStride ?? width
        try require(heads >= 1, op, "heads", heads, ">= 1")
        try checkRows(op, rows: rows, width: width, strides: [("rowStride", stride)])
        try check(op, "x", count: x.count, needed: floatsNeeded(rows: rows, stride: stride, width: width))
        try check(op, "positions", count: positions.count, needed: rows.upperBound)
        for r in rows {
            let p = Int(positions[r])
            try require(p >= 0 && p < table.positions, op, "positions[\(r)]", p, "within 0..<\(table.positions)")
        }
        table.cos.withUnsafeBufferPointer { c in
            table.sin.withUnsafeBufferPointer { s in
                ck_rope_f32(
                    x.baseAddress, stride, heads, table.headDim, positions.baseAddress, c.baseAddress, s.baseAddress,
                    rows.lowerBound, rows.upperBound)
            }
        }
    }
}
