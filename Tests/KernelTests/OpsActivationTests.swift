import CKernels
import Testing

@testable import Kernels

#if canImport(Glibc)
import Glibc
#endif

extension OpsKernelTests {
    @Suite struct Activation {
        /// A dense grid over [-6, 6] plus random values: every branch of the vector erf (|x| < 1, 1...4, >= 4).
        static func erfInputs() -> [Float] {
            var values = stride(from: Float(-6), through: 6, by: 1.0 / 1024).map { $0 }
            var rng = OpsRandom(seed: 11)
            values += rng.floats(1001, -8, 8)
            values += [0, 1e-30, -1e-30, 1e-6, 0.999_999_9, 1, 1.000_000_1, 3.999_999_8, 4, 50, -50]
            return values
        }

        @Test func erfWithin1e7RelativeOfDoubleOnEveryLevel() throws {
            let x = Self.erfInputs()
            let ref = x.map { erf(Double($0)) }
            try forEachOpsLevel { level in
                var y = [Float](repeating: .nan, count: x.count)
                try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeMutableBufferPointer { try Ops.erf(xb, into: $0) }
                }
                let ratio = worstRatio(y, ref, atol: 0, rtol: 1e-7)
                #expect(ratio <= 1, "erf at \(levelName(level)): worst error \(ratio * 1e-7) relative")
            }
        }

        @Test func geluMatchesDoubleOnEveryLevel() throws {
            let x = Self.erfInputs()
            let ref = x.map { v -> Double in let d = Double(v); return 0.5 * d * (1 + erf(d / 2.0.squareRoot())) }
            try forEachOpsLevel { level in
                var y = [Float](repeating: .nan, count: x.count)
                try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeMutableBufferPointer { try Ops.gelu(xb, into: $0) }
                }
                // 1 + erf(x / sqrt 2) cancels for negative x, as in the reference: allow ~2 ulp of 1 times |x| / 2.
                var worst = 0.0
                for i in 0..<x.count {
                    let tol = 3e-7 * abs(ref[i]) + 1.2e-7 * abs(Double(x[i]))
                    let err = abs(Double(y[i]) - ref[i])
                    worst = max(worst, tol > 0 ? err / tol : (err == 0 ? 0 : .infinity))
                }
                #expect(worst <= 1, "gelu at \(levelName(level)): \(worst)")
            }
        }

        @Test(arguments: [1, 5, 63, 130, 4099])
        func siluMulMatchesDoubleOnEveryLevel(count: Int) throws {
            var rng = OpsRandom(seed: UInt64(count))
            var gate = rng.floats(count, -12, 12)
            if count > 3 { gate[0] = -100; gate[1] = 100; gate[2] = 0 }
            let up = rng.floats(count, -3, 3)
            let ref = (0..<count).map { i -> Double in
                let g = Double(gate[i])
                return g / (1 + exp(-g)) * Double(up[i])
            }
            try forEachOpsLevel { level in
                var out = [Float](repeating: .nan, count: count)
                try gate.withUnsafeBufferPointer { gb in
                    try up.withUnsafeBufferPointer { ub in
                        try out.withUnsafeMutableBufferPointer { try Ops.siluMul(gate: gb, up: ub, into: $0) }
                    }
                }
                let ratio = worstRatio(out, ref, atol: 1e-30, rtol: 1e-6)
                #expect(ratio <= 1, "siluMul n \(count) at \(levelName(level)): \(ratio)")
            }
        }

        @Test(arguments: [(1, 5), (3, 63), (17, 130)])
        func addsAreExactOnEveryLevel(rows: Int, dim: Int) throws {
            var rng = OpsRandom(seed: UInt64(rows + dim))
            let stride = dim + 2
            let x = rng.floats(rows * stride, -10, 10), y = rng.floats(rows * dim, -10, 10)
            let bias = rng.floats(dim), scale = rng.floats(dim, 0, 0.1)
            try forEachOpsLevel { level in
                // Bias add over rows 1..<rows of a strided buffer.
                var biased = x
                try bias.withUnsafeBufferPointer { bb in
                    try biased.withUnsafeMutableBufferPointer {
                        try Ops.addBias($0, bias: bb, dim: dim, rows: 1..<rows, stride: stride)
                    }
                }
                var expected = x
                for r in 1..<max(rows, 1) { for c in 0..<dim { expected[r * stride + c] = x[r * stride + c] + bias[c] } }
                #expect(biased == expected, "addBias at \(levelName(level))")

                // Residual add with and without layer scale: x + (ls * y), the product rounded first.
                for useScale in [false, true] {
                    var acc = x
                    try y.withUnsafeBufferPointer { yb in
                        try scale.withUnsafeBufferPointer { sb in
                            try acc.withUnsafeMutableBufferPointer {
                                try Ops.addResidual($0, yb, layerScale: useScale ? sb : nil, dim: dim, rows: 0..<rows,
                                                    xStride: stride)
                            }
                        }
                    }
                    var want = x
                    for r in 0..<rows {
                        for c in 0..<dim {
                            let branch = useScale ? scale[c] * y[r * dim + c] : y[r * dim + c]
                            want[r * stride + c] = x[r * stride + c] + branch
                        }
                    }
                    #expect(acc == want, "addResidual scale \(useScale) at \(levelName(level))")
                }

                // Plain add into a third buffer, on a sub-range.
                var sum = [Float](repeating: -1, count: y.count)
                try y.withUnsafeBufferPointer { yb in
                    try x.withUnsafeBufferPointer { xb in
                        try sum.withUnsafeMutableBufferPointer { try Ops.add(yb, xb, into: $0, range: 1..<y.count) }
                    }
                }
                #expect(sum[0] == -1)
                #expect(Array(sum[1...]) == (1..<y.count).map { y[$0] + x[$0] }, "add at \(levelName(level))")
            }
        }
    }
}
