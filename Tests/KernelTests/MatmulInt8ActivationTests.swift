import CKernels
import Testing
@testable import Kernels

/// The int8-activation kernels (``MatmulPath/Precision/fast`` against q8_0 / q4_0 weights): X quantized to blocks
/// of 32 int8 values, integer dot products per block, `d_w · d_x · dot` summed in f32. Checked against the same
/// arithmetic written out in Swift (quantize X, exact integer dots, the sum in Double), against the f32 result
/// within the quantization bound, and for the fallbacks (the scalar level, ``MatmulPath/Precision/exact``) being
/// bit for bit the f32-activation kernels. Every level the machine has runs: AVX2 and AVX-512 take the AVX2 int8
/// kernels, AVX512-BF16 and AMX the AVX512-VNNI ones.
@Suite("Matmul int8 activations")
struct MatmulInt8ActivationTests {
    /// X quantized as the kernels must: per block of 32, d = max|x| / 127 in Float, q = x / d rounded to nearest
    /// even (all zero when d = 0).
    struct QuantizedX {
        let q: [Int32]
        let d: [Float]

        init(_ x: [Float]) {
            var q = [Int32](repeating: 0, count: x.count)
            var d = [Float](repeating: 0, count: x.count / 32)
            for b in 0..<(x.count / 32) {
                let block = x[(b * 32)..<(b * 32 + 32)]
                let amax = block.map { abs($0) }.max()!
                let scale = amax / 127
                d[b] = scale
                guard scale > 0 else { continue }
                for (j, v) in block.enumerated() {
                    let r = (v / scale).rounded(.toNearestOrEven)
                    q[b * 32 + j] = Int32(min(127, max(-127, r)))
                }
            }
            self.q = q
            self.d = d
        }
    }

    /// The weights as integers and scales, read from the raw layout (not through the C decoder).
    struct IntegerWeights {
        let q: [Int32]
        let d: [Float]

        init(_ w: WeightMatrix) {
            let raw = w.rawValues
            d = w.rawScales.map(halfToFloat)
            switch w.format {
            case .q8_0:
                q = (0..<(w.rows * w.cols)).map { Int32(Int8(bitPattern: raw[$0])) }
            case .q4_0:
                q = (0..<(w.rows * w.cols)).map { i in
                    let byte = raw[i / 32 * 16 + i % 32 % 16]
                    return Int32(i % 32 < 16 ? byte & 0x0F : byte >> 4) - 8
                }
            default:
                preconditionFailure("int8 activations need q8_0 or q4_0 weights")
            }
        }
    }

    /// One product X · W^T with its exact int8-activation reference and its float-rounding bound.
    struct Case {
        let w: WeightMatrix
        let m: Int
        let x: [Float]
        let reference: [Double]
        /// Per output: 4 · √(blocks + 16) · ulp · Σ_b |d_w d_x| · Σ_j |w_j q_j| (+ 8 |q_j| for q4_0, whose kernels
        /// add the nibbles' offset in integers): float rounding of the scale products and the sums.
        let bound: [Double]
        /// Per output: the largest |int8 result − f32 result| quantizing X may cause, Σ_k |w_k| · d_x / 2.
        let quantizationBound: [Double]

        init(w: WeightMatrix, m: Int, x: [Float]) {
            self.w = w
            self.m = m
            self.x = x
            let n = w.rows, k = w.cols, blocks = k / 32
            let weights = IntegerWeights(w)
            let eps = Double(Float.ulpOfOne)
            var reference = [Double](repeating: 0, count: m * n), bound = reference, quantization = reference
            for i in 0..<m {
                let qx = QuantizedX(Array(x[(i * k)..<(i * k + k)]))
                for j in 0..<n {
                    var sum = 0.0, magnitude = 0.0, error = 0.0
                    for b in 0..<blocks {
                        var dot: Int64 = 0, absDot: Int64 = 0, absW: Int64 = 0
                        for t in (b * 32)..<(b * 32 + 32) {
                            let wq = Int64(weights.q[j * k + t]), xq = Int64(qx.q[t])
                            dot += wq * xq
                            absDot += abs(wq * xq) + (w.format == .q4_0 ? 8 * abs(xq) : 0)
                            absW += abs(wq)
                        }
                        let scale = Double(weights.d[j * blocks + b]) * Double(qx.d[b])
                        sum += scale * Double(dot)
                        magnitude += abs(scale) * Double(absDot)
                        error += abs(Double(weights.d[j * blocks + b])) * Double(absW) * Double(qx.d[b]) / 2
                    }
                    reference[i * n + j] = sum
                    bound[i * n + j] = 4 * Double(blocks + 16).squareRoot() * eps * magnitude + 1e-37
                    quantization[i * n + j] = error * (1 + 1e-4)
                }
            }
            self.reference = reference
            self.bound = bound
            quantizationBound = quantization
        }

        init(format: WeightFormat, m: Int, n: Int, k: Int, seed: UInt64, xScale: Float = 1) throws {
            var random = MatmulTestRandom(seed: seed)
            let w = try WeightMatrix(rows: n, cols: k, format: format, f32: random.floats(n * k, scale: 0.5))
            self.init(w: w, m: m, x: random.floats(m * k, scale: xScale))
        }

        /// Y from `matmul` on `path` (accumulating onto a known Y when asked, which is then subtracted again).
        func run(pool: ThreadPool, path: MatmulPath, accumulate: Bool) -> (y: [Float], start: [Float]) {
            let n = w.rows
            let start: [Float] = (0..<(m * n)).map { accumulate ? Float($0 % 7) - 3 : 0 }
            var y = accumulate ? start : [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    matmul(xp.baseAddress!, rows: m, w, into: yp.baseAddress!, pool: pool, accumulate: accumulate,
                           path: path)
                }
            }
            return (y, start)
        }

        /// The worst |Y − reference| / bound of the int8-activation kernels on `path`.
        func worstRatio(pool: ThreadPool, path: MatmulPath, accumulate: Bool) -> Double {
            let (y, start) = run(pool: pool, path: path, accumulate: accumulate)
            var worst = 0.0
            for i in y.indices {
                let expected = reference[i] + Double(start[i])
                let allowed = bound[i] + (accumulate ? Double(Float.ulpOfOne) * abs(expected) : 0)
                let ratio = abs(Double(y[i]) - expected) / allowed
                worst = max(worst, ratio.isNaN ? .infinity : ratio)
            }
            return worst
        }
    }

    /// A path on `level` with the given precision (GEMM from 32, skinny kernels up to 31).
    static func path(_ level: MatmulPath.Level, _ precision: MatmulPath.Precision) -> MatmulPath {
        MatmulPath(level: level, gemmMinRows: 32, skinnyMaxRows: 31, precision: precision)
    }

    /// Whether FAST runs the int8 kernels at `level` on this machine: the AVX2 ones at AVX2 and AVX-512 for
    /// M <= 8, the AVX512-VNNI ones from AVX512-BF16 (which brings VNNI) up; the scalar level has none.
    static func usesInt8(_ level: MatmulPath.Level, m: Int = 1) -> Bool {
        let effective = min(level, MatmulPath.Level.machineMaximum)
        return effective >= .avx512bf16 || (effective >= .avx2 && m <= 8)
    }

    static let int8Levels = MatmulPath.Level.allCases.filter { usesInt8($0) }

    @Test("equals the integer reference: M = 1...31, awkward K and N, accumulate on and off",
          arguments: [WeightFormat.q8_0, .q4_0])
    func matchesIntegerReference(format: WeightFormat) throws {
        guard !Self.int8Levels.isEmpty else { return }
        let pool = try ThreadPool(threads: 3)
        var seed: UInt64 = 70_000 + (format == .q4_0 ? 50_000 : 0)
        for k in [32, 96, 4000] {
            for m in [1, 2, 3, 7, 16, 31] {
                for n in [1, 7, 9, 33, 257] {
                    seed += 1
                    let c = try Case(format: format, m: m, n: n, k: k, seed: seed)
                    for level in Self.int8Levels where Self.usesInt8(level, m: m) {
                        for accumulate in [false, true] {
                            let ratio = c.worstRatio(pool: pool, path: Self.path(level, .fast), accumulate: accumulate)
                            #expect(ratio <= 1, """
                                \(format) M=\(m) N=\(n) K=\(k) \(level.name) accumulate=\(accumulate): \
                                error/bound \(ratio)
                                """)
                        }
                    }
                }
            }
        }
    }

    @Test("long rows (K = 14336 + 32), one and two threads", arguments: [WeightFormat.q8_0, .q4_0])
    func longRows(format: WeightFormat) throws {
        guard !Self.int8Levels.isEmpty else { return }
        var seed: UInt64 = 80_000 + (format == .q4_0 ? 500 : 0)
        for threads in [1, 2] {
            let pool = try ThreadPool(threads: threads)
            for m in [1, 4, 7, 31] {
                seed += 1
                let c = try Case(format: format, m: m, n: 33, k: 14336 + 32, seed: seed)
                for level in Self.int8Levels where Self.usesInt8(level, m: m) {
                    let ratio = c.worstRatio(pool: pool, path: Self.path(level, .fast), accumulate: false)
                    #expect(ratio <= 1, "\(format) M=\(m) threads=\(threads) \(level.name): error/bound \(ratio)")
                }
            }
        }
    }

    @Test("raw weights over their whole range (q8_0 -128, any nibble) with random f16 scales",
          arguments: [WeightFormat.q8_0, .q4_0])
    func rawWeights(format: WeightFormat) throws {
        guard !Self.int8Levels.isEmpty else { return }
        var random = MatmulTestRandom(seed: 90_000 + (format == .q4_0 ? 1 : 0))
        let n = 19, k = 160
        let bytes = (0..<(format == .q8_0 ? n * k : n * k / 2)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let scales = (0..<(n * k / 32)).map { _ in ck_f32_to_f16(random.float() * 0.01) }
        let w = try bytes.withUnsafeBytes { values in
            try scales.withUnsafeBufferPointer { try WeightMatrix(rows: n, cols: k, format: format, values: values, scales: $0) }
        }
        let pool = try ThreadPool(threads: 2)
        for m in [1, 3, 5, 16] {
            let c = Case(w: w, m: m, x: random.floats(m * k, scale: 3))
            for level in Self.int8Levels where Self.usesInt8(level, m: m) {
                let ratio = c.worstRatio(pool: pool, path: Self.path(level, .fast), accumulate: false)
                #expect(ratio <= 1, "\(format) M=\(m) \(level.name): error/bound \(ratio)")
            }
        }
    }

    @Test("edge cases: all-zero blocks, huge and tiny magnitudes, exact ties of x / d",
          arguments: [WeightFormat.q8_0, .q4_0])
    func edgeCases(format: WeightFormat) throws {
        guard !Self.int8Levels.isEmpty else { return }
        let k = 128, n = 9
        var random = MatmulTestRandom(seed: 91_000 + (format == .q4_0 ? 1 : 0))
        let w = try WeightMatrix(rows: n, cols: k, format: format, f32: random.floats(n * k, scale: 0.5))
        var rows: [[Float]] = []
        // Block 0 all zero, block 1 huge, block 2 tiny, block 3 ordinary.
        var mixed = [Float](repeating: 0, count: k)
        for j in 32..<64 { mixed[j] = random.float() * 1e30 }
        for j in 64..<96 { mixed[j] = random.float() * 1e-30 }
        for j in 96..<128 { mixed[j] = random.float() }
        rows.append(mixed)
        rows.append([Float](repeating: 0, count: k))
        // max |x| = 127, so d = 1 and x / d = x: halves round to the even neighbour (2.5 -> 2, -3.5 -> -4).
        var ties = [Float](repeating: 0, count: k)
        for j in 0..<k { ties[j] = j % 32 == 0 ? (j % 64 == 0 ? 127 : -127) : Float(j % 9) - 4.5 }
        rows.append(ties)
        // A block whose largest value is a single spike and the rest far below one step.
        var spike = [Float](repeating: 1e-4, count: k)
        spike[5] = 50
        rows.append(spike)
        let pool = try ThreadPool(threads: 2)
        for m in [1, 4, 8] {
            let x = (0..<m).flatMap { rows[$0 % rows.count] }
            let c = Case(w: w, m: m, x: x)
            for level in Self.int8Levels where Self.usesInt8(level, m: m) {
                for accumulate in [false, true] {
                    let ratio = c.worstRatio(pool: pool, path: Self.path(level, .fast), accumulate: accumulate)
                    #expect(ratio <= 1, "\(format) M=\(m) \(level.name) accumulate=\(accumulate): error/bound \(ratio)")
                }
            }
        }
        // The ties row alone, against the reference rounded half away from zero: they must differ (the kernels
        // round half to even, as the reference does).
        let tieCase = Case(w: w, m: 1, x: ties)
        let weights = IntegerWeights(w)
        for level in Self.int8Levels {
            let y = tieCase.run(pool: pool, path: Self.path(level, .fast), accumulate: false).y
            var differs = false
            for j in 0..<n {
                var awayFromZero = 0.0
                for t in 0..<k {
                    let q = ties[t].rounded(.toNearestOrAwayFromZero)
                    awayFromZero += Double(weights.d[(j * k + t) / 32]) * Double(weights.q[j * k + t]) * Double(q)
                }
                if abs(Double(y[j]) - awayFromZero) > tieCase.bound[j] { differs = true }
            }
            #expect(differs, "\(level.name): ties must round to even, not away from zero")
        }
    }

    @Test("within the int8 quantization bound of the f32 result", arguments: [WeightFormat.q8_0, .q4_0])
    func nearFloatResult(format: WeightFormat) throws {
        guard !Self.int8Levels.isEmpty else { return }
        let pool = try ThreadPool(threads: 2)
        for (index, m) in [1, 3, 16].enumerated() {
            let c = try Case(format: format, m: m, n: 33, k: 544, seed: 92_000 + UInt64(index))
            let exact = try MatmulTests.Case(format: format, m: m, n: 33, k: 544, seed: 92_000 + UInt64(index))
            #expect(exact.x == c.x)
            for level in Self.int8Levels {
                let fast = c.run(pool: pool, path: Self.path(level, .fast), accumulate: false).y
                var worst = 0.0, rounded = 0
                for i in fast.indices {
                    let allowed = c.quantizationBound[i] + c.bound[i] + exact.bound[i]
                    let difference = abs(Double(fast[i]) - exact.reference[i])
                    worst = max(worst, difference / allowed)
                    if difference > exact.bound[i] { rounded += 1 }
                }
                #expect(worst <= 1, "\(format) M=\(m) \(level.name): |fast - f32| / quantization bound \(worst)")
                // Beyond float rounding somewhere: the int8 kernels really ran (or, where they do not, nowhere).
                #expect((rounded > 0) == Self.usesInt8(level, m: m),
                        "\(format) M=\(m) \(level.name): \(rounded) outputs differ from f32 beyond float rounding")
            }
        }
    }

    @Test("EXACT at every level, and FAST at the scalar level, are bit for bit the f32-activation kernels",
          arguments: [WeightFormat.q8_0, .q4_0])
    func fallbacksUnchanged(format: WeightFormat) throws {
        let pool = try ThreadPool(threads: 2)
        for (index, m) in [1, 4, 16].enumerated() {
            let c = try Case(format: format, m: m, n: 37, k: 352, seed: 93_000 + UInt64(index))
            // The scalar level has no int8 kernels: FAST there is the exact kernel.
            let levels = MatmulPath.Level.allCases.filter { $0 <= MatmulPath.Level.machineMaximum }
            for level in levels {
                let exact = c.run(pool: pool, path: Self.path(level, .exact), accumulate: false).y
                let baseline = c.run(pool: pool, path: Self.path(min(level, .avx512), .exact), accumulate: false).y
                #expect(exact.map(\.bitPattern) == baseline.map(\.bitPattern), "\(format) M=\(m) \(level.name): EXACT changed")
                if !Self.usesInt8(level, m: m) {
                    let fast = c.run(pool: pool, path: Self.path(level, .fast), accumulate: false).y
                    #expect(fast.map(\.bitPattern) == exact.map(\.bitPattern), "\(format) M=\(m) \(level.name): FAST fallback")
                }
            }
        }
    }
}
