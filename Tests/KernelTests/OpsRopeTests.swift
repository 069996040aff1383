import CKernels
import Testing

@testable import Kernels

#if canImport(Glibc)
import Glibc
#endif

extension OpsKernelTests {
    @Suite struct Rope {
        @Test func inverseFrequenciesFollowTheReferenceRecipe() {
            let inv = RopeTable.inverseFrequencies(headDim: 128, base: 1_000_000)
            #expect(inv.count == 64)
            #expect(inv[0] == 1)
            // 1e6^(-2/128) = 0.8058421877614819 (Python double); the recipe rounds twice (power, then
            // reciprocal), so allow one ulp.
            #expect(abs(Double(inv[1]) - 0.805_842_187_761_481_9) <= Double(inv[1].ulp))
            for i in 0..<64 {
                let exact = 1 / pow(1e6, Double(2 * i) / 128)
                #expect(abs(Double(inv[i]) - exact) <= 2 * Double(inv[i].ulp), "inv_freq[\(i)]")
            }
        }

        @Test func tableIsCosSinOfTheFloatAngle() throws {
            let dim = 128, positions = 33_000
            let table = try RopeTable(headDim: dim, positions: positions, base: 1_000_000)
            #expect(table.cos.count == positions * dim / 2)
            let inv = RopeTable.inverseFrequencies(headDim: dim, base: 1_000_000)
            var worst = 0.0
            for t in [0, 1, 2, 17, 400, 4095, 30_000, 32_999] {
                for i in 0..<(dim / 2) {
                    // The angle is a float product (as PyTorch's float32 outer product); cos/sin in double.
                    let angle = Double(Float(t) * inv[i])
                    worst = max(worst, abs(Double(table.cos[t * dim / 2 + i]) - cos(angle)))
                    worst = max(worst, abs(Double(table.sin[t * dim / 2 + i]) - sin(angle)))
                }
            }
            #expect(worst <= 6.0e-8, "worst |table - cos/sin(float angle)| = \(worst)")
            // The float angle is not the double one: at t = 30000 the difference is visible, which is why
            // the table must round the product to float.
            let t = 30_000, i = 1
            let doubleAngle = Double(t) * Double(inv[i])
            #expect(abs(Double(table.sin[t * dim / 2 + i]) - sin(doubleAngle)) > 1e-5)
        }

        @Test func dynamicNTKBase() {
            // No change while the key length fits the trained positions.
            #expect(RopeTable.dynamicNTKBase(theta: 1e6, factor: 2, seqLen: 32_768, maxPositions: 32_768, headDim: 128) == 1e6)
            // Python: 1e6 * ((2.0 * 40000 / 32768) - (2.0 - 1)) ** (128 / 126) = 1449795.7419935765
            let base = RopeTable.dynamicNTKBase(theta: 1e6, factor: 2, seqLen: 40_000, maxPositions: 32_768, headDim: 128)
            #expect(abs(base - 1_449_795.741_993_576_5) <= 1e-6)
        }

        /// x' = x * cos + rotate_half(x) * sin, every product rounded to float before the add (as PyTorch).
        func expected(_ x: [Float], rows: Int, heads: Int, dim: Int, stride: Int, positions: [Int32], table: RopeTable)
            -> [Float]
        {
            var out = x
            let half = dim / 2
            for r in 0..<rows {
                let p = Int(positions[r])
                for h in 0..<heads {
                    let base = r * stride + h * dim
                    for i in 0..<half {
                        let c = table.cos[p * half + i], s = table.sin[p * half + i]
                        let a = x[base + i], b = x[base + i + half]
                        let ac = a * c, bs = b * s, bc = b * c, as_ = a * s
                        out[base + i] = ac - bs
                        out[base + i + half] = bc + as_
                    }
                }
            }
            return out
        }

        @Test(arguments: [(1, 4, 6), (3, 3, 64), (17, 3, 130), (5, 8, 128)])
        func rotatesPairsIAndIPlusHalfExactlyOnEveryLevel(rows: Int, heads: Int, dim: Int) throws {
            var rng = OpsRandom(seed: UInt64(rows * 31 + dim))
            let stride = heads * dim + 7
            let table = try RopeTable(headDim: dim, positions: 5000, base: 10_000)
            let x = rng.floats(rows * stride, -3, 3)
            let positions = (0..<rows).map { _ in Int32(rng.next() % 5000) }
            let want = expected(x, rows: rows, heads: heads, dim: dim, stride: stride, positions: positions, table: table)
            // Double check of the convention itself (pairs (i, i + d/2), not interleaved).
            let half = dim / 2, p0 = Int(positions[0])
            let c0 = Double(table.cos[p0 * half]), s0 = Double(table.sin[p0 * half])
            let rotated = Double(x[0]) * c0 - Double(x[half]) * s0
            #expect(abs(Double(want[0]) - rotated) <= 1e-6)
            try forEachOpsLevel { level in
                var buf = x
                try positions.withUnsafeBufferPointer { pb in
                    try buf.withUnsafeMutableBufferPointer {
                        try Ops.applyRope($0, heads: heads, rows: 0..<rows, positions: pb, table: table, rowStride: stride)
                    }
                }
                #expect(mismatches(buf, want) == 0, "rope rows \(rows) heads \(heads) dim \(dim) at \(levelName(level))")
            }
        }

        @Test func rejectsPositionOutsideTable() throws {
            let table = try RopeTable(headDim: 4, positions: 10, base: 10_000)
            var x = [Float](repeating: 1, count: 8)
            let positions: [Int32] = [3, 10]
            _ = positions.withUnsafeBufferPointer { pb in
                x.withUnsafeMutableBufferPointer { xb in
                    #expect(throws: OpsError.invalidArgument(op: "applyRope", argument: "positions[1]", value: 10,
                                                             requirement: "within 0..<10")) {
                        try Ops.applyRope(xb, heads: 1, rows: 0..<2, positions: pb, table: table)
                    }
                }
            }
        }
    }
}
