import Testing
@testable import Kernels

/// The large-M f32 GEMM (ck_gemm_f32_avx512.c: X packed once, W decoded into packed micro-panels, AVX-512 FMA
/// micro-kernel) against a Double reference, within the same bound as every other exact path. The GEMM is forced
/// from M = 2 on every level this machine has: AVX-512 and above take the new kernel, AVX2 the decode + sgemm
/// fallback, which must meet the same bound.
@Suite("MatmulF32GEMM")
struct MatmulF32GEMMTests {
    /// Levels from AVX2 up to this machine's maximum (AMX takes its own bf16 GEMM, so it stops at AVX512-BF16).
    static let levels: [MatmulPath.Level] = [.avx2, .avx512, .avx512bf16].filter { $0 <= MatmulPath.Level.machineMaximum }

    /// (M, N, K): none a multiple of the 14 x 32 micro-kernel in both M and N. K = 800 and 4113 end in a short K
    /// block (blocks of 256 or 512 columns), K = 1000 and 4113 end in a part of a 16-column vector and K = 7 has
    /// no full vector (those two only for f32 and bf16: quantized formats need K % 32 == 0). M = 2081 and 4200 run
    /// in several passes over X (2 of 1050 and 3 of 1400 rows).
    static let sizes: [(m: Int, n: Int, k: Int)] = [
        (37, 53, 96), (1025, 300, 1024), (100, 33, 800), (2, 31, 64), (14, 32, 32), (15, 65, 544),
        (2081, 33, 64), (4200, 15, 96),
        (29, 45, 1000), (50, 17, 4113), (13, 40, 7),
    ]

    static let cases: [(sizeIndex: Int, format: WeightFormat)] = sizes.indices.flatMap { index in
        WeightFormat.allCases.filter { !$0.isQuantized || sizes[index].k % 32 == 0 }.map { (index, $0) }
    }

    @Test("awkward sizes: every format x level x accumulate", arguments: cases.indices)
    func awkwardSizes(caseIndex: Int) throws {
        let (sizeIndex, format) = Self.cases[caseIndex]
        let (m, n, k) = Self.sizes[sizeIndex]
        let c = try MatmulTests.Case(format: format, m: m, n: n, k: k, seed: 5100 + UInt64(caseIndex))
        let pool = try ThreadPool(threads: caseIndex % 2 == 0 ? 2 : 3)
        for level in Self.levels {
            let path = MatmulPath(level: level, gemmMinRows: 2, skinnyMaxRows: 1, precision: .exact)
            for accumulate in [false, true] {
                let ratio = c.worstRatio(pool: pool, path: path, accumulate: accumulate)
                #expect(ratio <= 1, "\(format) M=\(m) N=\(n) K=\(k) \(level.name) accumulate=\(accumulate): error/bound \(ratio)")
            }
        }
    }

    @Test("the default path at prefill size: one thread and three threads agree with the reference")
    func defaultPath() throws {
        for (index, format) in WeightFormat.allCases.enumerated() {
            let c = try MatmulTests.Case(format: format, m: 64, n: 70, k: 320, seed: 5300 + UInt64(index))
            for threads in [1, 3] {
                let pool = try ThreadPool(threads: threads)
                let ratio = c.worstRatio(pool: pool, path: .automatic, accumulate: false)
                #expect(ratio <= 1, "\(format) threads=\(threads): error/bound \(ratio)")
            }
        }
    }
}
