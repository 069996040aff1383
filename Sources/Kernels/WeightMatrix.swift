import CKernels

/// Why a weight matrix could not be made.
public enum WeightMatrixError: Error, CustomStringConvertible, Equatable {
    /// rows or cols below 1.
    case invalidShape(rows: Int, cols: Int)
    /// A quantized format needs whole blocks of 32 values per row.
    case colsNotMultipleOfBlock(format: WeightFormat, cols: Int, block: Int)
    /// Raw data handed to `init(rows:cols:format:values:scales:)` has the wrong size.
    case rawSizeMismatch(format: WeightFormat, field: String, expected: Int, got: Int)

    public var description: String {
        switch self {
        case .invalidShape(let rows, let cols):
            return "weight matrix: shape [\(rows), \(cols)] must have at least 1 row and 1 column"
        case .colsNotMultipleOfBlock(let format, let cols, let block):
            return "weight matrix: format \(format.rawValue) needs cols % \(block) == 0 (got cols = \(cols))"
        case .rawSizeMismatch(let format, let field, let expected, let got):
            return "weight matrix: \(format.rawValue) \(field) must be \(expected) bytes (got \(got))"
        }
    }
}

/// A Linear layer's weight W[rows, cols] (PyTorch layout [out, in]) converted at load time to one
/// ``WeightFormat`` and owned in 64-byte aligned memory, ready for ``matmul(_:rows:_:into:pool:accumulate:path:)``.
///
/// Quantized formats keep each row's values contiguous and its block scales in a separate array (f16),
/// the layout the kernels read fastest (no per-block interleaving to skip over).
public final class WeightMatrix: @unchecked Sendable {
    /// Output features (N).
    public let rows: Int
    /// Input features (K).
    public let cols: Int
    /// The storage format.
    public let format: WeightFormat

    private let values: UnsafeMutableRawPointer
    private let valueBytes: Int
    private let scaleStorage: UnsafeMutablePointer<UInt16>?
    private let scaleCount: Int

    /// Converts bfloat16 weights (checkpoint bits, row-major [rows, cols]) to `format`. Rows are converted in
    /// parallel when a pool is given.
    public convenience init(rows: Int, cols: Int, format: WeightFormat, bf16: UnsafePointer<UInt16>,
                            pool: ThreadPool? = nil) throws {
        try self.init(rows: rows, cols: cols, format: format)
        let c = Int64(cols)
        convertRows(pool: pool) { row0, count in
            let src = bf16 + row0 * cols
            switch format {
            case .f32:
                let dst = self.values.assumingMemoryBound(to: Float.self) + row0 * cols
                for i in 0..<(count * cols) { dst[i] = ck_bf16_to_f32(src[i]) }
            case .bf16:
                (self.values.assumingMemoryBound(to: UInt16.self) + row0 * cols).update(from: src, count: count * cols)
            case .q8_0:
                ck_quantize_q8_0_bf16(src, Int64(count), c, self.values.assumingMemoryBound(to: Int8.self) + row0 * cols,
                                      self.scaleStorage! + row0 * (cols / 32))
            case .q4_0:
                ck_quantize_q4_0_bf16(src, Int64(count), c,
                                      self.values.assumingMemoryBound(to: UInt8.self) + row0 * (cols / 2),
                                      self.scaleStorage! + row0 * (cols / 32))
            }
        }
    }

    /// Converts f32 weights (row-major [rows, cols]) to `format` (bf16 rounds to nearest even).
    public convenience init(rows: Int, cols: Int, format: WeightFormat, f32: UnsafePointer<Float>,
                            pool: ThreadPool? = nil) throws {
        try self.init(rows: rows, cols: cols, format: format)
        let c = Int64(cols)
        convertRows(pool: pool) { row0, count in
            let src = f32 + row0 * cols
            switch format {
            case .f32:
                (self.values.assumingMemoryBound(to: Float.self) + row0 * cols).update(from: src, count: count * cols)
            case .bf16:
                let dst = self.values.assumingMemoryBound(to: UInt16.self) + row0 * cols
                for i in 0..<(count * cols) { dst[i] = ck_f32_to_bf16(src[i]) }
            case .q8_0:
                ck_quantize_q8_0(src, Int64(count), c, self.values.assumingMemoryBound(to: Int8.self) + row0 * cols,
                                 self.scaleStorage! + row0 * (cols / 32))
            case .q4_0:
                ck_quantize_q4_0(src, Int64(count), c, self.values.assumingMemoryBound(to: UInt8.self) + row0 * (cols / 2),
                                 self.scaleStorage! + row0 * (cols / 32))
            }
        }
    }

    /// Copies data already in `format`'s layout (for example a pre-quantized file): `values` as described by
    /// ``WeightFormat`` and, for quantized formats, `scales` (f16 bits, one per block of 32).
    public convenience init(rows: Int, cols: Int, format: WeightFormat, values: UnsafeRawBufferPointer,
                            scales: UnsafeBufferPointer<UInt16>?) throws {
        try self.init(rows: rows, cols: cols, format: format)
        guard values.count == valueBytes else {
            throw WeightMatrixError.rawSizeMismatch(format: format, field: "values", expected: valueBytes, got: values.count)
        }
        let scaleBytes = (scales?.count ?? 0) * 2
        guard scaleBytes == scaleCount * 2 else {
            throw WeightMatrixError.rawSizeMismatch(format: format, field: "scales", expected: scaleCount * 2, got: scaleBytes)
        }
        if let base = values.baseAddress { self.values.copyMemory(from: base, byteCount: valueBytes) }
        if let scales, let base = scales.baseAddress { scaleStorage!.update(from: base, count: scaleCount) }
    }

    /// Allocates storage for the shape and format (contents undefined).
    private init(rows: Int, cols: Int, format: WeightFormat) throws {
        guard rows >= 1, cols >= 1 else { throw WeightMatrixError.invalidShape(rows: rows, cols: cols) }
        if format.isQuantized && cols % format.blockSize != 0 {
            throw WeightMatrixError.colsNotMultipleOfBlock(format: format, cols: cols, block: format.blockSize)
        }
        self.rows = rows
        self.cols = cols
        self.format = format
        valueBytes = ck_format_data_bytes(format.cFormat, Int64(rows), Int64(cols))
        scaleCount = ck_format_scale_count(format.cFormat, Int64(rows), Int64(cols))
        values = UnsafeMutableRawPointer.allocate(byteCount: max(valueBytes, 1), alignment: 64)
        scaleStorage = scaleCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: scaleCount) : nil
    }

    deinit {
        values.deallocate()
        scaleStorage?.deallocate()
    }

    /// Bytes of memory the weights take (values and scales): what a GEMV reads per call.
    public var byteCount: Int { valueBytes + scaleCount * 2 }

    /// The stored values, in ``format``'s layout.
    public var rawValues: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: values, count: valueBytes) }

    /// The f16 block scales of a quantized format (empty otherwise).
    public var rawScales: UnsafeBufferPointer<UInt16> { UnsafeBufferPointer(start: scaleStorage, count: scaleCount) }

    /// Writes rows `range` as floats to `destination[(row - range.lowerBound) * cols + col]`: exactly the
    /// values every matmul path multiplies by (useful for embedding lookups and as a test reference).
    public func decodeRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "decodeRows: \(range) outside 0..<\(rows)")
        withCWeights { w in ck_weights_decode_rows(w, Int64(range.lowerBound), Int64(range.count), destination) }
    }

    /// Calls `body` with the C description of this matrix (valid only during the call).
    func withCWeights<R>(_ body: (UnsafePointer<ck_weights>) -> R) -> R {
        var w = ck_weights(format: format.cFormat, rows: Int64(rows), cols: Int64(cols),
                           data: UnsafeRawPointer(values), scales: UnsafePointer(scaleStorage))
        return withUnsafePointer(to: &w) { body($0) }
    }

    /// Runs `convert(firstRow, rowCount)` over all rows, split across the pool if there is one.
    private func convertRows(pool: ThreadPool?, _ convert: (Int, Int) -> Void) {
        let rowsPerTask = 64
        let tasks = (rows + rowsPerTask - 1) / rowsPerTask
        let rows = self.rows
        if let pool {
            pool.run(tasks: tasks) { task, _ in
                let row0 = task * rowsPerTask
                convert(row0, min(rowsPerTask, rows - row0))
            }
        } else {
            convert(0, rows)
        }
    }
}
