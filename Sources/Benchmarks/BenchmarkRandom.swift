import CKernels
import Kernels

/// Random benchmark inputs, filled in parallel by the pool (so pages land near the threads that use them), from a
/// per-chunk xorshift generator: the same seed gives the same values whatever the thread count.
enum BenchmarkRandom {
    /// Values per task.
    private static let chunk = 1 << 18

    /// Uniform floats in [-scale, scale).
    static func fillFloats(_ p: UnsafeMutablePointer<Float>, count: Int, pool: ThreadPool, seed: UInt64, scale: Float) {
        fill(count: count, pool: pool, seed: seed) { i, unit in p[i] = unit * scale }
    }

    /// bf16 weights uniform in ±0.05 (a trained layer's range).
    static func fillBF16(_ p: UnsafeMutablePointer<UInt16>, count: Int, pool: ThreadPool, seed: UInt64) {
        fill(count: count, pool: pool, seed: seed) { i, unit in p[i] = ck_f32_to_bf16(unit * 0.05) }
    }

    /// Calls `store(i, u)` for every i < count with u uniform in [-1, 1).
    private static func fill(count: Int, pool: ThreadPool, seed: UInt64, store: (Int, Float) -> Void) {
        pool.run(tasks: (count + chunk - 1) / chunk) { task, _ in
            var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(task) &* 0xBF58_476D_1CE4_E5B9 | 1
            for i in (task * chunk)..<min(count, (task + 1) * chunk) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                store(i, Float(state >> 40) * 0x1p-24 * 2 - 1)
            }
        }
    }
}
