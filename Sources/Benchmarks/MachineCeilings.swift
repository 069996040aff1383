import CKernels
import COpenBLAS
import Kernels

/// This machine's own limits, measured in the same process with the same threads as the kernels.
enum MachineCeilings {
    /// Read bandwidth in GB/s: every pool thread reads its share of a `bytes`-byte buffer as `streams`
    /// interleaved sequential streams; the fastest of several passes.
    static func readBandwidth(pool: ThreadPool, buffer: UnsafeMutableRawPointer, bytes: Int, streams: Int) -> Double {
        let threads = pool.threadCount
        let share = bytes / threads / 4096 * 4096
        var checksums = [UInt64](repeating: 0, count: threads)
        let timer = BenchmarkTimer(minRuns: 5, maxRuns: 10, minTotalSeconds: 0.5)
        let time = checksums.withUnsafeMutableBufferPointer { sums in
            timer.measure {
                pool.run(tasks: threads) { task, _ in
                    sums[task] ^= ck_bandwidth_read(buffer + task * share, share, Int32(streams))
                }
            }
        }
        return Double(share * threads) / time.best / 1e9
    }

    /// Allocates and touches (from the pool's threads, so pages land near them) a 64-byte-aligned buffer.
    static func makeReadBuffer(pool: ThreadPool, bytes: Int) -> UnsafeMutableRawPointer {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let chunk = 1 << 24
        pool.run(tasks: (bytes + chunk - 1) / chunk) { task, _ in
            let start = task * chunk
            let count = min(chunk, bytes - start)
            let words = (buffer + start).bindMemory(to: UInt64.self, capacity: count / 8)
            for i in 0..<(count / 8) { words[i] = UInt64(start / 8 + i) &* 0x9E37_79B9_7F4A_7C15 }
        }
        return buffer
    }

    /// The best OpenBLAS sgemm rate in GFLOP/s with every pool thread multiplying its own
    /// [1024 x 2048] · [2048 x 1024] (OpenBLAS itself single-threaded inside each).
    static func sgemmRate(pool: ThreadPool) -> Double {
        let threads = pool.threadCount
        let m = 1024, n = 1024, k = 2048
        var a = [Float](repeating: 0, count: threads * m * k)
        var b = [Float](repeating: 0, count: threads * n * k)
        var c = [Float](repeating: 0, count: threads * m * n)
        for i in a.indices { a[i] = Float(i % 17) * 0.01 - 0.08 }
        for i in b.indices { b[i] = Float(i % 13) * 0.01 - 0.06 }
        let timer = BenchmarkTimer(minRuns: 5, maxRuns: 10, minTotalSeconds: 0.5)
        let time = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    timer.measure {
                        pool.run(tasks: threads) { t, _ in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
                                        ap.baseAddress! + t * m * k, Int32(k), bp.baseAddress! + t * n * k, Int32(k), 0,
                                        cp.baseAddress! + t * m * n, Int32(n))
                        }
                    }
                }
            }
        }
        return 2 * Double(m * n * k * threads) / time.best / 1e9
    }

    /// The bf16 multiply-add peak in GFLOP/s at `level` (AMX TDPBF16PS, or AVX512-BF16 vdpbf16ps) from registers
    /// only, every pool thread at once; 0 when the level has no bf16 instruction. The best of several runs.
    static func bf16TilePeak(pool: ThreadPool, level: MatmulPath.Level) -> Double {
        guard level >= .avx512bf16 else { return 0 }
        let iterations = level >= .amx ? 1 << 21 : 1 << 23
        var flops = 0.0
        let timer = BenchmarkTimer(minRuns: 5, maxRuns: 10, minTotalSeconds: 0.3)
        let time = timer.measure { flops = level.bf16PeakRun(pool: pool, iterations: iterations) }
        return flops / time.best / 1e9
    }

    /// OpenBLAS's kernel family for this CPU (set by `OPENBLAS_CORETYPE` before start-up).
    static var openBLASCore: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
