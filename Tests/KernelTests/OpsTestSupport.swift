import CKernels
import TestSupport
import Testing

@testable import Kernels

/// All op-kernel suites hang under this one, serialized: they switch the process-wide dispatch level.
@Suite(.serialized) enum OpsKernelTests {}

/// Deterministic random numbers for test inputs (SplitMix64).
struct OpsRandom {
    private var source: SeededGenerator

    init(seed: UInt64) { source = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { source.next() }

    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float, _ hi: Float) -> Float {
        let unit = Float(next() >> 40) / Float(1 << 24)
        return lo + (hi - lo) * unit
    }

    mutating func floats(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<count).map { _ in float(lo, hi) }
    }
}

/// The dispatch levels this machine has, from scalar up.
var opsLevels: [ck_level] {
    let top = ck_cpu_max_level().rawValue
    return (0...top).map { ck_level(rawValue: $0) }
}

/// Runs `body` once per dispatch level the machine has, then restores the level that was active before.
func forEachOpsLevel(_ body: (ck_level) throws -> Void) rethrows {
    let saved = ck_active_level()
    defer { _ = ck_set_level(saved) }
    for level in opsLevels {
        #expect(ck_set_level(level) == level)
        try body(level)
    }
}

func levelName(_ level: ck_level) -> String { String(cString: ck_level_name(level)) }

/// Largest |got - ref| / (atol + rtol * |ref|) over all elements: <= 1 means every element is within tolerance.
func worstRatio(_ got: [Float], _ ref: [Double], atol: Double, rtol: Double) -> Double {
    precondition(got.count == ref.count)
    var worst = 0.0
    for i in 0..<got.count {
        let err = abs(Double(got[i]) - ref[i])
        if err == 0 { continue }
        let ratio = err / (atol + rtol * abs(ref[i]))
        if !(ratio <= worst) { worst = ratio.isNaN ? .infinity : ratio }
    }
    return worst
}

func maxAbs(_ values: [Double]) -> Double { values.reduce(0) { max($0, abs($1)) } }

/// How many positions differ bit for bit (NaN never equals), for exactness checks that should not print arrays.
func mismatches(_ a: [Float], _ b: [Float]) -> Int {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { $0 + ($1.0.bitPattern == $1.1.bitPattern ? 0 : 1) }
}
