import CKernels
import Dispatch
import Testing
@testable import Kernels

/// The fused small-M ("skinny") matmul kernels, M = 2...32, on every format and CPU level against the Double
/// reference of decode-then-multiply (the bound of ``MatmulTests/Case``).
@Suite("Matmul skinny")
struct MatmulSkinnyTests {
    /// K values per format: below one vector, not a multiple of 16 (f32 / bf16), and longer than one chunk
    /// (the chunk is 512 columns for M <= 8 and 128...256 above).
    static let shapes: [(format: WeightFormat, k: Int)] = [
        (.f32, 7), (.f32, 37), (.f32, 530), (.bf16, 9), (.bf16, 100), (.bf16, 530),
        (.q8_0, 32), (.q8_0, 160), (.q8_0, 544), (.q4_0, 32), (.q4_0, 96), (.q4_0, 544),
    ]

    @Test("M = 2, 3, 5, 7, 16 on every format x level, N not a multiple of 4 or 16", arguments: shapes.indices)
    func awkwardSizes(shapeIndex: Int) throws {
        let (format, k) = Self.shapes[shapeIndex]
        let pool = try ThreadPool(threads: 3)
        var seed = 50_000 + UInt64(shapeIndex) * 100
        for m in [2, 3, 5, 7, 16] {
            for n in [1, 6, 33] {
                seed += 1
                let c = try MatmulTests.Case(format: format, m: m, n: n, k: k, seed: seed)
                for level in matmulTestLevels {
                    let path = MatmulPath(level: level, gemmMinRows: 32, skinnyMaxRows: 16)
                    for accumulate in [false, true] {
                        let ratio = c.worstRatio(pool: pool, path: path, accumulate: accumulate)
                        #expect(ratio <= 1, "\(format) M=\(m) N=\(n) K=\(k) \(level.name) accumulate=\(accumulate): error/bound \(ratio)")
                    }
                }
            }
        }
    }

    @Test("M up to the skinny limit (32), with the GEMM threshold above it", arguments: WeightFormat.allCases)
    func upToLimit(format: WeightFormat) throws {
        let k = format.isQuantized ? 288 : 301
        let pool = try ThreadPool(threads: 2)
        for (index, m) in [17, 31, 32].enumerated() {
            let c = try MatmulTests.Case(format: format, m: m, n: 19, k: k, seed: 61_000 + UInt64(index))
            for level in matmulTestLevels {
                let path = MatmulPath(level: level, gemmMinRows: 64, skinnyMaxRows: MatmulPath.skinnyLimit)
                let ratio = c.worstRatio(pool: pool, path: path, accumulate: false)
                #expect(ratio <= 1, "\(format) M=\(m) K=\(k) \(level.name): error/bound \(ratio)")
            }
        }
    }

    @Test("skinny and the older decode-panel path both meet the bound, even over NaN-filled scratch memory",
          arguments: WeightFormat.allCases)
    func skinnyMatchesPanelPath(format: WeightFormat) throws {
        let k = format.isQuantized ? 64 : 45
        let pool = try ThreadPool(threads: 2)
        let c = try MatmulTests.Case(format: format, m: 4, n: 9, k: k, seed: 62_000)
        for level in matmulTestLevels {
            for skinny in [0, 16] {
                // X is packed into thread 0's scratch: stale NaNs past the last column must never reach Y.
                let bytes = 1 << 16
                let scratch = try #require(ck_pool_scratch(pool.handle, 0, bytes))
                let floats = scratch.bindMemory(to: Float.self, capacity: bytes / 4)
                for i in 0..<(bytes / 4) { floats[i] = .nan }
                let path = MatmulPath(level: level, gemmMinRows: 32, skinnyMaxRows: skinny)
                let ratio = c.worstRatio(pool: pool, path: path, accumulate: false)
                #expect(ratio <= 1, "\(format) \(level.name) skinnyMaxRows=\(skinny): error/bound \(ratio)")
            }
        }
    }

    @Test("callers on other threads sharing one pool each get their own result")
    func concurrentCallers() throws {
        let pool = try ThreadPool(threads: 2)
        let cases = try (0..<4).map { try MatmulTests.Case(format: .bf16, m: 2 + $0, n: 37, k: 200, seed: 63_000 + UInt64($0)) }
        let ratios = UnsafeMutableBufferPointer<Double>.allocate(capacity: cases.count * 20)
        defer { ratios.deallocate() }
        DispatchQueue.concurrentPerform(iterations: ratios.count) { index in
            ratios[index] = cases[index % cases.count].worstRatio(pool: pool, path: .automatic, accumulate: false)
        }
        #expect(ratios.allSatisfy { $0 <= 1 }, "worst error/bound \(ratios.max()!)")
    }

    @Test("the default path sends every M from 2 up to the GEMM threshold to the skinny kernels")
    func defaultLimit() {
        #expect(MatmulPath.automatic.skinnyMaxRows >= MatmulPath.automatic.gemmMinRows - 1)
        #expect(MatmulPath(level: .avx2).skinnyMaxRows == MatmulPath.defaultSkinnyMaxRows)
    }
}
