import Testing
@testable import Kernels

/// The bf16-weight GEMM (AMX tiles) against a Double reference: exact precision within the same f32 bound as the
/// sgemm path, fast precision within bf16 rounding of X; at AVX512-BF16 (no AMX) both precisions must take the
/// decode + sgemm fallback and meet the same bounds.
@Suite("MatmulBF16GEMM")
struct MatmulBF16GEMMTests {
    /// AMX and its fallback level that this machine has; a missing one is named once, not skipped silently.
    static let levels: [MatmulPath.Level] = {
        let wanted: [MatmulPath.Level] = [.avx512bf16, .amx]
        for level in wanted where level > MatmulPath.Level.machineMaximum {
            print("MatmulBF16GEMMTests: this machine lacks \(level.name) (maximum \(MatmulPath.Level.machineMaximum.name)); its bf16 GEMM is not tested here")
        }
        return wanted.filter { $0 <= MatmulPath.Level.machineMaximum }
    }()

    /// (M, N, K): awkward sizes; K = 4113 is odd and crosses the 1024-column W panel, M = 257 and N = 300 leave
    /// edge blocks of 1 and 12 rows / columns; M = 2081 and 4200 run in several passes over X (2 of 1056 and 3 of
    /// 1408 rows, the last one short).
    static let sizes: [(m: Int, n: Int, k: Int)] = [
        (2081, 33, 40), (4200, 15, 72),
        (17, 15, 40), (33, 1, 40), (100, 33, 40), (257, 300, 40),
        (17, 33, 1000), (33, 300, 1000), (100, 15, 1000), (257, 1, 1000),
        (33, 15, 4113), (100, 33, 4113), (257, 15, 4113), (17, 300, 4113),
    ]

    /// Allowed error of fast precision: X rounded to bf16 (relative error at most 2^-9 per value) adds
    /// 2^-9 · Σ|x||w| to the f32 bound.
    static func fastBound(_ c: MatmulTests.Case, index: Int) -> Double {
        let k = Double(c.w.cols)
        let magnitude = c.bound[index] / (2 * k.squareRoot() * Double(Float.ulpOfOne))
        return c.bound[index] + 0x1p-9 * magnitude
    }

    /// Runs the matmul on `path` and returns the worst error / allowed ratio.
    static func worstRatio(_ c: MatmulTests.Case, pool: ThreadPool, path: MatmulPath, accumulate: Bool) -> Double {
        let n = c.w.rows, m = c.m
        let start: [Float] = (0..<(m * n)).map { Float($0 % 7) - 3 }
        var y = accumulate ? start : [Float](repeating: .nan, count: m * n)
        c.x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                matmul(xp.baseAddress!, rows: m, c.w, into: yp.baseAddress!, pool: pool, accumulate: accumulate, path: path)
            }
        }
        var worst = 0.0
        for i in 0..<(m * n) {
            let expected = c.reference[i] + (accumulate ? Double(start[i]) : 0)
            let bound = path.precision == .fast ? fastBound(c, index: i) : c.bound[i]
            let allowed = bound + (accumulate ? Double(Float.ulpOfOne) * abs(expected) : 0)
            let ratio = abs(Double(y[i]) - expected) / allowed
            worst = max(worst, ratio.isNaN ? .infinity : ratio)
        }
        return worst
    }

    @Test("awkward sizes: every bf16 GEMM level x precision x accumulate", arguments: sizes.indices)
    func awkwardSizes(sizeIndex: Int) throws {
        let (m, n, k) = Self.sizes[sizeIndex]
        let c = try MatmulTests.Case(format: .bf16, m: m, n: n, k: k, seed: 4400 + UInt64(sizeIndex))
        let pool = try ThreadPool(threads: sizeIndex % 2 == 0 ? 2 : 3)
        for level in Self.levels {
            for precision in MatmulPath.Precision.allCases {
                let path = MatmulPath(level: level, gemmMinRows: 2, skinnyMaxRows: 32, precision: precision)
                for accumulate in [false, true] {
                    let ratio = Self.worstRatio(c, pool: pool, path: path, accumulate: accumulate)
                    #expect(ratio <= 1, "M=\(m) N=\(n) K=\(k) \(level.name) \(precision.name) accumulate=\(accumulate): error/bound \(ratio)")
                }
            }
        }
    }

    @Test("exact precision is as accurate as the f32 path, fast precision is not (it rounds X)")
    func exactIsNotFast() throws {
        guard Self.levels.contains(.amx) else { return }
        let c = try MatmulTests.Case(format: .bf16, m: 40, n: 33, k: 1000, seed: 4500)
        let pool = try ThreadPool(threads: 2)
        let exact = Self.worstRatio(c, pool: pool, path: MatmulPath(level: .amx, gemmMinRows: 2, skinnyMaxRows: 32, precision: .exact), accumulate: false)
        // Fast precision measured against the f32 bound must fail it: proves the precision reaches the kernel.
        let fastPath = MatmulPath(level: .amx, gemmMinRows: 2, skinnyMaxRows: 32, precision: .fast)
        var y = [Float](repeating: 0, count: 40 * 33)
        c.x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: 40, c.w, into: $0.baseAddress!, pool: pool, path: fastPath) }
        }
        let fastWorst = (0..<y.count).map { abs(Double(y[$0]) - c.reference[$0]) / c.bound[$0] }.max()!
        #expect(exact <= 1)
        #expect(fastWorst > 1, "fast precision unexpectedly within the f32 bound (\(fastWorst))")
    }

    @Test("the default path takes the bf16 GEMM from M = 16 (seen through fast precision, which rounds X there)")
    func defaultThreshold() throws {
        guard Self.levels.contains(.amx) else { return }
        #expect(MatmulPath.automatic.bf16GEMMMinRows == 16)
        let pool = try ThreadPool(threads: 2)
        for (m, expectGEMM) in [(15, false), (16, true), (31, true)] {
            let c = try MatmulTests.Case(format: .bf16, m: m, n: 40, k: 300, seed: 4700 + UInt64(m))
            var path = MatmulPath.automatic
            path.level = .amx
            path.precision = .fast
            var y = [Float](repeating: 0, count: m * 40)
            c.x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: m, c.w, into: $0.baseAddress!, pool: pool, path: path) }
            }
            let worst = (0..<y.count).map { abs(Double(y[$0]) - c.reference[$0]) / c.bound[$0] }.max()!
            #expect((worst > 1) == expectGEMM, "M=\(m): error / f32 bound \(worst)")
        }
    }

    @Test("NaN, infinity and subnormal values of X propagate like the f32 reference")
    func specialValues() throws {
        let (m, n, k) = (35, 20, 70)
        var random = MatmulTestRandom(seed: 4600)
        let weights = random.floats(n * k, scale: 0.5).map { $0 == 0 ? 0.25 : $0 }
        let w = try WeightMatrix(rows: n, cols: k, format: .bf16, f32: weights)
        let decoded = decodedRows(w)
        var x = random.floats(m * k)
        x[0 * k + 3] = .nan
        x[1 * k + 5] = .infinity
        x[2 * k + 69] = -.infinity
        x[3 * k + 7] = .greatestFiniteMagnitude / 4
        for t in 0..<k { x[4 * k + t] = Float.leastNormalMagnitude * Float(t % 5) / 4 }  // subnormals and zeros
        x[5 * k + 1] = 1 + 0x1p-23  // needs every bit of the three terms
        let pool = try ThreadPool(threads: 2)
        for level in Self.levels {
            for precision in MatmulPath.Precision.allCases {
                let path = MatmulPath(level: level, gemmMinRows: 2, skinnyMaxRows: 32, precision: precision)
                var y = [Float](repeating: 0, count: m * n)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { matmul(xp.baseAddress!, rows: m, w, into: $0.baseAddress!, pool: pool, path: path) }
                }
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0, magnitude = 0.0
                        for t in 0..<k {
                            sum += Double(x[i * k + t]) * Double(decoded[j * k + t])
                            magnitude += abs(Double(x[i * k + t]) * Double(decoded[j * k + t]))
                        }
                        let got = Double(y[i * n + j])
                        let label = "\(level.name) \(precision.name) row \(i) col \(j): got \(got), reference \(sum)"
                        if sum.isNaN {
                            #expect(got.isNaN, "\(label)")
                        } else if sum.isInfinite {
                            #expect(got == sum, "\(label)")
                        } else {
                            var allowed = 2 * Double(k).squareRoot() * Double(Float.ulpOfOne) * magnitude + 1e-30
                            if precision == .fast { allowed += 0x1p-9 * magnitude }
                            #expect(abs(got - sum) <= allowed, "\(label)")
                        }
                    }
                }
            }
        }
    }
}
