import CKernels
import Testing

@testable import Kernels

extension OpsKernelTests {
    @Suite struct Norm {
        static let shapes: [(rows: Int, dim: Int)] = [(1, 5), (3, 63), (17, 130), (3, 4096), (2, 1)]

        func rmsReference(_ x: [Float], _ w: [Float], dim: Int, stride: Int, rows: Int, eps: Float) -> [Double] {
            var out = [Double]()
            for r in 0..<rows {
                let row = (0..<dim).map { Double(x[r * stride + $0]) }
                let ms = row.reduce(0) { $0 + $1 * $1 } / Double(dim)
                let inv = 1 / (ms + Double(eps)).squareRoot()
                out += (0..<dim).map { row[$0] * inv * Double(w[$0]) }
            }
            return out
        }

        func layerReference(_ x: [Float], _ w: [Float], _ b: [Float], dim: Int, stride: Int, rows: Int, eps: Float)
            -> [Double]
        {
            var out = [Double]()
            for r in 0..<rows {
                let row = (0..<dim).map { Double(x[r * stride + $0]) }
                let mean = row.reduce(0, +) / Double(dim)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(dim)
                let inv = 1 / (variance + Double(eps)).squareRoot()
                out += (0..<dim).map { (row[$0] - mean) * inv * Double(w[$0]) + Double(b[$0]) }
            }
            return out
        }

        /// Rows of a strided buffer, packed.
        func packed(_ y: [Float], rows: Int, dim: Int, stride: Int) -> [Float] {
            (0..<rows).flatMap { r in y[(r * stride)..<(r * stride + dim)] }
        }

        @Test func rmsNormMatchesDoubleOnEveryLevel() throws {
            var rng = OpsRandom(seed: 1)
            for (rows, dim) in Self.shapes {
                let xStride = dim + 3, eps: Float = 1e-5
                // An offset mean makes the row's sum of squares large relative to single terms.
                let x = rng.floats(rows * xStride, -2, 3)
                let w = rng.floats(dim, 0.5, 1.5)
                let ref = rmsReference(x, w, dim: dim, stride: xStride, rows: rows, eps: eps)
                try forEachOpsLevel { level in
                    var y = [Float](repeating: .nan, count: rows * dim)
                    try x.withUnsafeBufferPointer { xb in
                        try w.withUnsafeBufferPointer { wb in
                            try y.withUnsafeMutableBufferPointer { yb in
                                try Ops.rmsNorm(xb, into: yb, weight: wb, dim: dim, eps: eps, rows: 0..<rows, xStride: xStride)
                            }
                        }
                    }
                    let ratio = worstRatio(y, ref, atol: 1e-6 * maxAbs(ref), rtol: 1e-5)
                    #expect(ratio <= 1, "rmsNorm rows \(rows) dim \(dim) level \(levelName(level)): \(ratio)")
                }
            }
        }

        @Test func rmsNormInPlaceOnRowRangeLeavesOtherRows() throws {
            var rng = OpsRandom(seed: 2)
            let rows = 5, dim = 37
            let x = rng.floats(rows * dim)
            let w = rng.floats(dim)
            let ref = rmsReference(x, w, dim: dim, stride: dim, rows: rows, eps: 1e-6)
            try forEachOpsLevel { level in
                var buf = x
                try w.withUnsafeBufferPointer { wb in
                    try buf.withUnsafeMutableBufferPointer { b in
                        try Ops.rmsNorm(UnsafeBufferPointer(b), into: b, weight: wb, dim: dim, eps: 1e-6, rows: 1..<4)
                    }
                }
                #expect(Array(buf[0..<dim]) == Array(x[0..<dim]), "row 0 untouched at \(levelName(level))")
                #expect(Array(buf[(4 * dim)...]) == Array(x[(4 * dim)...]), "row 4 untouched at \(levelName(level))")
                let ratio = worstRatio(Array(buf[dim..<(4 * dim)]), Array(ref[dim..<(4 * dim)]), atol: 1e-6, rtol: 1e-5)
                #expect(ratio <= 1, "in-place rows 1..<4 at \(levelName(level)): \(ratio)")
            }
        }

        @Test func layerNormMatchesDoubleOnEveryLevel() throws {
            var rng = OpsRandom(seed: 3)
            for (rows, dim) in Self.shapes {
                let yStride = dim + 1, eps: Float = 1e-6
                // A large common offset checks the two-pass (centred) variance.
                let x = rng.floats(rows * dim, 9, 11)
                let w = rng.floats(dim, -1.5, 1.5)
                let b = rng.floats(dim)
                let ref = layerReference(x, w, b, dim: dim, stride: dim, rows: rows, eps: eps)
                try forEachOpsLevel { level in
                    var y = [Float](repeating: .nan, count: rows * yStride)
                    try x.withUnsafeBufferPointer { xb in
                        try w.withUnsafeBufferPointer { wb in
                            try b.withUnsafeBufferPointer { bb in
                                try y.withUnsafeMutableBufferPointer { yb in
                                    try Ops.layerNorm(xb, into: yb, weight: wb, bias: bb, dim: dim, eps: eps,
                                                      rows: 0..<rows, yStride: yStride)
                                }
                            }
                        }
                    }
                    let got = packed(y, rows: rows, dim: dim, stride: yStride)
                    // The output is O(1) after centring, while the input sits near 10: the float rounding of
                    // x - mean alone is ~1e-6 absolute.
                    let ratio = worstRatio(got, ref, atol: 1e-5 * max(1, maxAbs(ref)), rtol: 1e-5)
                    #expect(ratio <= 1, "layerNorm rows \(rows) dim \(dim) level \(levelName(level)): \(ratio)")
                }
            }
        }

        @Test func rejectsShortBuffersWithANamedError() {
            let x = [Float](repeating: 1, count: 10), w = [Float](repeating: 1, count: 4)
            var y = [Float](repeating: 0, count: 10)
            x.withUnsafeBufferPointer { xb in
                w.withUnsafeBufferPointer { wb in
                    y.withUnsafeMutableBufferPointer { yb in
                        #expect(throws: OpsError.bufferTooSmall(op: "rmsNorm", argument: "weight", needed: 5, available: 4)) {
                            try Ops.rmsNorm(xb, into: yb, weight: wb, dim: 5, eps: 1e-5, rows: 0..<2)
                        }
                        #expect(throws: OpsError.bufferTooSmall(op: "rmsNorm", argument: "x", needed: 14, available: 10)) {
                            try Ops.rmsNorm(xb, into: yb, weight: wb, dim: 4, eps: 1e-5, rows: 0..<3, xStride: 5)
                        }
                    }
                }
            }
        }
    }
}
