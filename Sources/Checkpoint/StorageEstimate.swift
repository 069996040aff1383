/// Bytes a tensor needs in memory in each weight format the kernels run.
///
/// Matrices whose rows are a multiple of 32 values are stored in the format (q8_0: 32 int8 + an f16 scale = 34 bytes
/// per 32 values; q4_0: 16 bytes of nibbles + an f16 scale = 18); vectors and other tensors stay f32.
public enum StorageEstimate {
    /// Weight formats, in the order reports list them.
    public static let formats = ["f32", "bf16", "q8_0", "q4_0"]

    /// Bytes per 32 values of a quantizable matrix, by format.
    static let bytesPer32 = ["f32": 128, "bf16": 64, "q8_0": 34, "q4_0": 18]

    /// Whether `info` is stored in the weight format (a matrix with rows of a multiple of 32 values).
    public static func isQuantizable(_ info: TensorInfo) -> Bool {
        info.shape.count == 2 && info.shape[1] % 32 == 0
    }

    /// Bytes of `info` in `format` (one of `formats`).
    public static func bytes(of info: TensorInfo, format: String) -> Int {
        guard isQuantizable(info), let per32 = bytesPer32[format] else { return info.elementCount * 4 }
        return info.elementCount / 32 * per32
    }
}
