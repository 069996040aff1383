import CKernels
import Testing
@testable import Kernels

/// Format conversions and the quantization rules of q8_0 and q4_0.
@Suite("Matmul weight formats")
struct MatmulQuantizationTests {
    @Test("decodeRows equals an independent decode of the raw bytes", arguments: WeightFormat.allCases)
    func decodeMatchesRawLayout(format: WeightFormat) throws {
        var random = MatmulTestRandom(seed: 5)
        let source = random.floats(9 * 64, scale: 3)
        let w = try WeightMatrix(rows: 9, cols: 64, format: format, f32: source)
        #expect(decodedRows(w) == independentlyDecoded(w))
        #expect(w.byteCount == format.byteCount(rows: 9, cols: 64))
    }

    @Test("bf16 input converts the same as its f32 value", arguments: WeightFormat.allCases)
    func bf16AndF32SourcesAgree(format: WeightFormat) throws {
        var random = MatmulTestRandom(seed: 6)
        let bits: [UInt16] = (0..<(5 * 96)).map { _ in ck_f32_to_bf16(random.float() * 4) }
        let floats = bits.map { Float(bitPattern: UInt32($0) << 16) }
        let a = try WeightMatrix(rows: 5, cols: 96, format: format, bf16: bits)
        let b = try WeightMatrix(rows: 5, cols: 96, format: format, f32: floats)
        #expect(decodedRows(a) == decodedRows(b))
        if format == .bf16 || format == .f32 { #expect(decodedRows(a) == floats) }
    }

    @Test("q8_0: the largest magnitude maps to ±127 and every value is within half a step")
    func q8Rule() throws {
        var random = MatmulTestRandom(seed: 7)
        var source = random.floats(4 * 64, scale: 2)
        for i in 64..<96 { source[i] = 0 }  // an all-zero block
        let w = try WeightMatrix(rows: 4, cols: 64, format: .q8_0, f32: source)
        let decoded = decodedRows(w)
        let q = w.rawValues.map { Int8(bitPattern: $0) }
        for block in 0..<(source.count / 32) {
            let values = source[(block * 32)..<(block * 32 + 32)]
            let amax = values.map { abs($0) }.max()!
            let scale = halfToFloat(w.rawScales[block])
            #expect(scale == halfToFloat(ck_f32_to_f16(amax / 127)))
            if amax == 0 {
                #expect(q[(block * 32)..<(block * 32 + 32)].allSatisfy { $0 == 0 })
                continue
            }
            let argmax = values.indices.first { abs(source[$0]) == amax }!
            #expect(abs(Int(q[argmax])) == 127)
            for i in values.indices {
                #expect(q[i] == Int8((source[i] / (amax / 127)).rounded()))
                #expect(abs(decoded[i] - source[i]) <= scale / 2 + 127 * abs(scale - amax / 127) + 1e-6)
            }
        }
    }

    @Test("q4_0: ggml's rule (signed maximum to nibble 0, scale = max / -8, clamp to 15)")
    func q4Rule() throws {
        var random = MatmulTestRandom(seed: 8)
        var source = random.floats(3 * 64, scale: 2)
        source[5] = 3  // block 0: positive maximum
        source[40] = -3  // block 1: negative maximum
        let w = try WeightMatrix(rows: 3, cols: 64, format: .q4_0, f32: source)
        let raw = Array(w.rawValues)
        let decoded = decodedRows(w)
        for block in 0..<(source.count / 32) {
            let values = Array(source[(block * 32)..<(block * 32 + 32)])
            let maxIndex = values.indices.max { abs(values[$0]) < abs(values[$1]) }!
            let d = values[maxIndex] / -8
            let scale = halfToFloat(w.rawScales[block])
            #expect(scale == halfToFloat(ck_f32_to_f16(d)))
            for j in 0..<32 {
                let byte = raw[block * 16 + j % 16]
                let nibble = j < 16 ? Int(byte & 0x0F) : Int(byte >> 4)
                #expect(nibble == min(15, Int(values[j] / d + 8.5)))
                if j == maxIndex { #expect(nibble == 0) }
                #expect(abs(decoded[block * 32 + j] - values[j]) <= abs(scale) + 1e-6)
            }
        }
        #expect(source[5] / halfToFloat(w.rawScales[0]) < 0)  // sign kept: the scale of a positive max is negative
    }

    @Test("f16 conversions: every half value round-trips; rounding is to nearest even")
    func halfConversions() {
        for bits in 0...UInt16.max {
            let f = ck_f16_to_f32(bits)
            let expected = halfToFloat(bits)
            if expected.isNaN {
                #expect(f.isNaN)
                continue
            }
            #expect(f == expected, "f16 \(bits)")
            #expect(ck_f32_to_f16(f) == bits, "f16 \(bits)")
        }
        #expect(ck_f32_to_f16(65520) == 0x7C00)  // halfway above 65504 rounds up to infinity
        #expect(ck_f32_to_f16(65519) == 0x7BFF)
        #expect(ck_f32_to_f16(0x1p-25) == 0)  // halfway to the smallest subnormal: ties to even (zero)
        #expect(ck_f32_to_f16(0x1.8p-24) == 2)  // 1.5 units: ties to even (2)
        #expect(ck_f32_to_f16(1 + 0x1p-11) == 0x3C00)  // halfway between 1 and its successor: to even
        #expect(ck_f32_to_f16(1 + 0x1.8p-10) == 0x3C02)
    }

    @Test("bf16 conversion rounds to nearest even")
    func bf16Conversion() {
        #expect(ck_f32_to_bf16(1) == 0x3F80)
        #expect(ck_f32_to_bf16(1 + 0x1p-8) == 0x3F80)  // halfway: to even
        #expect(ck_f32_to_bf16(1 + 0x1.8p-7) == 0x3F82)  // halfway between odd 0x3F81 and 0x3F82: to even
        #expect(ck_f32_to_bf16(1 + 0x1.2p-8) == 0x3F81)  // just above halfway: up
        #expect(ck_bf16_to_f32(ck_f32_to_bf16(-2.5)) == -2.5)
    }

    @Test("quantized formats reject a row length that is not a multiple of 32")
    func blockPrecondition() {
        let values = [Float](repeating: 1, count: 2 * 100)
        #expect(throws: WeightMatrixError.colsNotMultipleOfBlock(format: .q4_0, cols: 100, block: 32)) {
            try WeightMatrix(rows: 2, cols: 100, format: .q4_0, f32: values)
        }
        #expect(throws: WeightMatrixError.colsNotMultipleOfBlock(format: .q8_0, cols: 100, block: 32)) {
            try WeightMatrix(rows: 2, cols: 100, format: .q8_0, f32: values)
        }
        #expect(throws: WeightMatrixError.invalidShape(rows: 0, cols: 32)) {
            try WeightMatrix(rows: 0, cols: 32, format: .f32, f32: values)
        }
    }
}
