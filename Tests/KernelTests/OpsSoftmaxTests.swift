import CKernels
import Testing

@testable import Kernels

#if canImport(Glibc)
import Glibc
#endif

extension OpsKernelTests {
    @Suite struct Softmax {
        func reference(_ x: [Float], rows: Int, dim: Int) -> [Double] {
            var out = [Double]()
            for r in 0..<rows {
                let row = x[(r * dim)..<((r + 1) * dim)].map(Double.init)
                let m = row.max()!
                let e = row.map { exp($0 - m) }
                let s = e.reduce(0, +)
                out += e.map { $0 / s }
            }
            return out
        }

        @Test(arguments: [(1, 5), (3, 63), (17, 130), (2, 1000), (4, 1)])
        func matchesDoubleOnEveryLevel(rows: Int, dim: Int) throws {
            var rng = OpsRandom(seed: UInt64(rows * 1000 + dim))
            var x = rng.floats(rows * dim, -20, 20)
            // Masked entries, as attention masks produce: they must get probability exactly 0.
            var masked = Set<Int>()
            if dim > 1 {
                for r in 0..<rows {
                    let i = r * dim + (r * 7) % dim
                    x[i] = -.infinity
                    masked.insert(i)
                }
            }
            let ref = reference(x, rows: rows, dim: dim)
            try forEachOpsLevel { level in
                var y = [Float](repeating: .nan, count: rows * dim)
                try x.withUnsafeBufferPointer { xb in
                    try y.withUnsafeMutableBufferPointer { yb in
                        try Ops.softmax(xb, into: yb, dim: dim, rows: 0..<rows)
                    }
                }
                let ratio = worstRatio(y, ref, atol: 1e-9, rtol: 1e-5)
                #expect(ratio <= 1, "softmax rows \(rows) dim \(dim) level \(levelName(level)): \(ratio)")
                #expect(masked.allSatisfy { y[$0] == 0 }, "masked entries are 0 at \(levelName(level))")
            }
        }

        @Test func inPlaceOnRowRange() throws {
            var rng = OpsRandom(seed: 9)
            let rows = 3, dim = 17
            let x = rng.floats(rows * dim, -5, 5)
            let ref = reference(x, rows: rows, dim: dim)
            try forEachOpsLevel { level in
                var buf = x
                try buf.withUnsafeMutableBufferPointer { b in
                    try Ops.softmax(UnsafeBufferPointer(b), into: b, dim: dim, rows: 1..<2)
                }
                #expect(Array(buf[0..<dim]) == Array(x[0..<dim]))
                #expect(Array(buf[(2 * dim)...]) == Array(x[(2 * dim)...]))
                let ratio = worstRatio(Array(buf[dim..<(2 * dim)]), Array(ref[dim..<(2 * dim)]), atol: 1e-9, rtol: 1e-5)
                #expect(ratio <= 1, "softmax in place at \(levelName(level)): \(ratio)")
            }
        }
    }
}
