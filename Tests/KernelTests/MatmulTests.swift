import Testing
@testable import Kernels

/// matmul on every format, CPU level and strategy against a Double reference of decode-then-multiply.
@Suite("Matmul")
struct MatmulTests {
    /// One matmul case: weights, input and the Double reference (with the error bound it allows).
    struct Case {
        let w: WeightMatrix
        let m: Int
        let x: [Float]
        let reference: [Double]
        /// Per output: 2 · √K · ulp · Σ_k |x_k| · b_k, where b_k is |w_k| (f32, bf16, q8_0) or |w_k| + 8 |scale|
        /// (q4_0, whose kernels compute (n − 8)·x as n·x − 8·x). The worst-case float summation bound grows
        /// with K; independent rounding errors grow with √K, which is what these random inputs show, so this
        /// bound is K/√K times tighter than the worst case and still holds for every path.
        let bound: [Double]

        init(format: WeightFormat, m: Int, n: Int, k: Int, seed: UInt64) throws {
            var random = MatmulTestRandom(seed: seed)
            let source = random.floats(n * k, scale: 0.5)
            w = try WeightMatrix(rows: n, cols: k, format: format, f32: source)
            self.m = m
            x = random.floats(m * k)
            let decoded = decodedRows(w)
            let scales = w.rawScales
            var reference = [Double](repeating: 0, count: m * n), bound = reference
            let eps = Double(Float.ulpOfOne)
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0, magnitude = 0.0
                    for t in 0..<k {
                        let wv = Double(decoded[j * k + t]), xv = Double(x[i * k + t])
                        sum += wv * xv
                        var b = abs(wv)
                        if format == .q4_0 { b += 8 * abs(Double(halfToFloat(scales[(j * k + t) / 32]))) }
                        magnitude += abs(xv) * b
                    }
                    reference[i * n + j] = sum
                    bound[i * n + j] = 2 * Double(k).squareRoot() * eps * magnitude + 1e-30
                }
            }
            self.reference = reference
            self.bound = bound
        }

        /// Runs matmul (optionally accumulating onto a known Y) and returns the worst error / bound ratio.
        func worstRatio(pool: ThreadPool, path: MatmulPath, accumulate: Bool) -> Double {
            let n = w.rows
            let start: [Float] = (0..<(m * n)).map { Float($0 % 7) - 3 }
            var y = accumulate ? start : [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    matmul(xp.baseAddress!, rows: m, w, into: yp.baseAddress!, pool: pool, accumulate: accumulate, path: path)
                }
            }
            var worst = 0.0
            for i in 0..<(m * n) {
                let expected = reference[i] + (accumulate ? Double(start[i]) : 0)
                let allowed = bound[i] + (accumulate ? Double(Float.ulpOfOne) * abs(expected) : 0)
                let ratio = abs(Double(y[i]) - expected) / allowed
                worst = max(worst, ratio.isNaN ? .infinity : ratio)
            }
            return worst
        }
    }

    /// Strategies forced at every M: automatic, streaming kernels only, GEMM from M = 2.
    static let strategies: [(String, Int)] = [("automatic", 32), ("streaming", 1 << 30), ("gemm", 2)]

    static let shapes: [(format: WeightFormat, k: Int)] = [
        (.f32, 100), (.f32, 37), (.bf16, 100), (.bf16, 37), (.q8_0, 96), (.q8_0, 160), (.q4_0, 96), (.q4_0, 160),
    ]

    @Test("awkward sizes: every format x level x strategy", arguments: shapes.indices)
    func awkwardSizes(shapeIndex: Int) throws {
        let (format, k) = Self.shapes[shapeIndex]
        let pool = try ThreadPool(threads: 3)
        var seed: UInt64 = UInt64(shapeIndex) * 1000
        for m in [1, 3, 17, 70] {
            for n in [1, 7, 33, 130] {
                seed += 1
                let c = try Case(format: format, m: m, n: n, k: k, seed: seed)
                for level in matmulTestLevels {
                    for (name, gemmMinRows) in Self.strategies {
                        let path = MatmulPath(level: level, gemmMinRows: gemmMinRows)
                        for accumulate in [false, true] {
                            let ratio = c.worstRatio(pool: pool, path: path, accumulate: accumulate)
                            #expect(ratio <= 1, "\(format) M=\(m) N=\(n) K=\(k) \(level.name) \(name) accumulate=\(accumulate): error/bound \(ratio)")
                        }
                    }
                }
            }
        }
    }

    @Test("M = 1 (GEMV), quantized: awkward K (blocks not a multiple of 4 or 16) and N, every level, accumulate",
          arguments: [WeightFormat.q8_0, .q4_0])
    func quantizedGEMV(format: WeightFormat) throws {
        let pool = try ThreadPool(threads: 3)
        var seed: UInt64 = 11_000 + (format == .q4_0 ? 500 : 0)
        // 1, 3, 4, 7, 15 and 129 blocks: partial and whole groups of 4 blocks and of 16 scales, one row's last group.
        for k in [32, 96, 128, 224, 480, 4128] {
            for n in [1, 9, 63, 131] {
                seed += 1
                let c = try Case(format: format, m: 1, n: n, k: k, seed: seed)
                for level in matmulTestLevels {
                    for accumulate in [false, true] {
                        let ratio = c.worstRatio(pool: pool, path: MatmulPath(level: level), accumulate: accumulate)
                        #expect(ratio <= 1, "\(format) N=\(n) K=\(k) \(level.name) accumulate=\(accumulate): error/bound \(ratio)")
                    }
                }
            }
        }
    }

    @Test("long rows cross scale groups and panel edges", arguments: WeightFormat.allCases)
    func longRows(format: WeightFormat) throws {
        let k = format.isQuantized ? 2080 : 2100  // > 2048 (GEMM panel), > 512 (small-M panel), 65 blocks
        let pool = try ThreadPool(threads: 2)
        for (index, m) in [1, 5, 40].enumerated() {
            let c = try Case(format: format, m: m, n: 37, k: k, seed: 9000 + UInt64(index))
            for level in matmulTestLevels {
                let ratio = c.worstRatio(pool: pool, path: MatmulPath(level: level), accumulate: false)
                #expect(ratio <= 1, "\(format) M=\(m) K=\(k) \(level.name): error/bound \(ratio)")
            }
        }
    }

    @Test("a single-thread pool gives the same results as a three-thread pool")
    func threadCountIndependence() throws {
        let c = try Case(format: .q8_0, m: 17, n: 130, k: 160, seed: 77)
        for threads in [1, 3] {
            let pool = try ThreadPool(threads: threads)
            #expect(c.worstRatio(pool: pool, path: .automatic, accumulate: false) <= 1)
        }
    }

    @Test("M = 0 leaves Y untouched")
    func emptyInput() throws {
        let pool = try ThreadPool(threads: 2)
        let w = try WeightMatrix(rows: 4, cols: 32, format: .q4_0, f32: [Float](repeating: 1, count: 128))
        var y: [Float] = [42]
        let x: [Float] = [0]
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: 0, w, into: $0.baseAddress!, pool: pool) }
        }
        #expect(y == [42])
    }
}
