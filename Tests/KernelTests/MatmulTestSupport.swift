import CKernels
import TestSupport
@testable import Kernels

/// A small seeded generator (SplitMix64) so every run tests the same inputs.
struct MatmulTestRandom {
    private var source: SeededGenerator

    init(seed: UInt64) { source = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { source.next() }

    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }

    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in float() * scale } }
}

/// The CPU levels this machine can run, from scalar up to AVX-512 (higher levels use the AVX-512 kernels).
let matmulTestLevels: [MatmulPath.Level] = [.scalar, .avx2, .avx512].filter { $0 <= MatmulPath.Level.machineMaximum }

/// Decodes every row of `w` to floats with the library's own decoder.
func decodedRows(_ w: WeightMatrix) -> [Float] {
    var out = [Float](repeating: .nan, count: w.rows * w.cols)
    out.withUnsafeMutableBufferPointer { w.decodeRows(0..<w.rows, into: $0.baseAddress!) }
    return out
}

/// Decodes `w` from its raw bytes independently of the C decoder (format rules written out in Swift).
func independentlyDecoded(_ w: WeightMatrix) -> [Float] {
    let raw = w.rawValues, scales = w.rawScales
    let n = w.rows * w.cols
    switch w.format {
    case .f32:
        return (0..<n).map { raw.load(fromByteOffset: $0 * 4, as: Float.self) }
    case .bf16:
        return (0..<n).map { Float(bitPattern: UInt32(raw.load(fromByteOffset: $0 * 2, as: UInt16.self)) << 16) }
    case .q8_0:
        return (0..<n).map { i in halfToFloat(scales[i / 32]) * Float(Int8(bitPattern: raw[i])) }
    case .q4_0:
        return (0..<n).map { i in
            let block = i / 32, j = i % 32
            let byte = raw[block * 16 + j % 16]
            let nibble = j < 16 ? Int(byte & 0x0F) : Int(byte >> 4)
            return halfToFloat(scales[block]) * Float(nibble - 8)
        }
    }
}

/// IEEE half bits to Float, written from the definition (sign, 5-bit exponent with bias 15, 10-bit fraction).
func halfToFloat(_ h: UInt16) -> Float {
    let sign: Double = h & 0x8000 != 0 ? -1 : 1
    let exponent = Int((h >> 10) & 0x1F), fraction = Double(h & 0x3FF)
    if exponent == 0x1F { return fraction == 0 ? Float(sign * .infinity) : .nan }
    if exponent == 0 { return Float(sign * fraction * 0x1p-24) }
    return Float(sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1))
}
