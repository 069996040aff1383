import CKernels

/// How the values of a weight matrix are stored in memory.
///
/// Quantized formats hold blocks of 32 consecutive values of a row with one IEEE half-precision scale each
/// (stored apart from the values, one scale array per matrix):
/// - `q8_0`: value = scale · q, q an Int8; scale = max|x| / 127, q = round(x / scale).
/// - `q4_0`: value = scale · (n − 8), n a 4-bit number; ggml's rule: scale = m / −8 where m is the value of
///   largest magnitude (with its sign), n = min(15, trunc(x / scale + 8.5)).
public enum WeightFormat: String, CaseIterable, Sendable {
    /// 32-bit IEEE floats.
    case f32
    /// bfloat16 (as stored in the checkpoints): the upper 16 bits of an IEEE float.
    case bf16
    /// 8-bit integers, one f16 scale per 32 values (1.0625 bytes per value).
    case q8_0
    /// 4-bit integers, one f16 scale per 32 values (0.5625 bytes per value).
    case q4_0

    /// Values per block of one scale, or 1 for unquantized formats.
    public var blockSize: Int {
        switch self {
        case .f32, .bf16: return 1
        case .q8_0, .q4_0: return Int(CK_QBLOCK)
        }
    }

    /// Whether the format holds integers with block scales.
    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes a `rows` x `cols` matrix takes in this format (values and scales).
    public func byteCount(rows: Int, cols: Int) -> Int {
        let values = ck_format_data_bytes(cFormat, Int64(rows), Int64(cols))
        let scales = ck_format_scale_count(cFormat, Int64(rows), Int64(cols))
        return values + scales * 2
    }

    /// The C enumeration value.
    var cFormat: ck_format {
        switch self {
        case .f32: return CK_FORMAT_F32
        case .bf16: return CK_FORMAT_BF16
        case .q8_0: return CK_FORMAT_Q8_0
        case .q4_0: return CK_FORMAT_Q4_0
        }
    }
}
