/// Element types of checkpoint tensors that the loaders read.
public enum TensorDType: String, Sendable, CaseIterable {
    case bf16 = "BF16"
    case f16 = "F16"
    case f32 = "F32"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bf16, .f16: return 2
        case .f32: return 4
        }
    }
}

/// Conversions of single stored elements to Float.
public enum ElementConversion {
    /// The exact float value of a bfloat16 bit pattern.
    @inline(__always)
    public static func float(bf16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The exact float value of an IEEE half bit pattern.
    @inline(__always)
    public static func float(f16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }

    /// The nearest bfloat16 (round to nearest even) of a float; NaN stays NaN.
    @inline(__always)
    public static func bf16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        let rounding = ((bits >> 16) & 1) + 0x7FFF
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}
