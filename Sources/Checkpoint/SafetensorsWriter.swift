import Foundation

/// Writes `.safetensors` files: an 8-byte little-endian header length, a JSON header padded with spaces to a
/// multiple of 8 bytes, then the tensors' bytes back to back in header order. Tensors are produced one at a time, so
/// a multi-gigabyte checkpoint never has to sit in memory at once.
public struct SafetensorsWriter {
    /// A tensor to write: its bytes are produced by `fill` into a buffer of exactly `byteCount` bytes.
    public struct Entry {
        public var name: String
        public var dtype: TensorDType
        public var shape: [Int]
        public var fill: (UnsafeMutableRawBufferPointer) -> Void

        public init(name: String, dtype: TensorDType, shape: [Int], fill: @escaping (UnsafeMutableRawBufferPointer) -> Void) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.fill = fill
        }

        /// A tensor of Float values stored as `dtype` (bf16 and f16 are rounded to nearest even).
        public init(name: String, dtype: TensorDType, shape: [Int], floats: [Float]) {
            precondition(floats.count == shape.reduce(1, *), "\(name): \(floats.count) values for shape \(shape)")
            self.init(name: name, dtype: dtype, shape: shape) { buffer in
                switch dtype {
                case .f32:
                    for (i, value) in floats.enumerated() { buffer.storeBytes(of: value, toByteOffset: 4 * i, as: Float.self) }
                case .bf16:
                    for (i, value) in floats.enumerated() {
                        buffer.storeBytes(of: ElementConversion.bf16(value), toByteOffset: 2 * i, as: UInt16.self)
                    }
                case .f16:
                    for (i, value) in floats.enumerated() {
                        buffer.storeBytes(of: Float16(value).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
                    }
                }
            }
        }

        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// Writes `entries` to `url` (replacing it), with an optional `__metadata__` map.
    /// `progress` is called after each tensor with the bytes written so far and the total.
    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL,
                             progress: ((Int, Int) -> Void)? = nil) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for entry in entries {
            header[entry.name] = ["dtype": entry.dtype.rawValue, "shape": entry.shape,
                                  "data_offsets": [offset, offset + entry.byteCount]] as [String: Any]
            offset += entry.byteCount
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CheckpointError(file: url.path, "cannot create file")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var length = UInt64(json.count).littleEndian
        try handle.write(contentsOf: Data(bytes: &length, count: 8))
        try handle.write(contentsOf: json)
        var written = 0
        for entry in entries {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(entry.byteCount, 1), alignment: 64)
            defer { buffer.deallocate() }
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<entry.byteCount])
            entry.fill(slice)
            try handle.write(contentsOf: Data(bytesNoCopy: slice.baseAddress ?? buffer.baseAddress!,
                                              count: entry.byteCount, deallocator: .none))
            written += entry.byteCount
            progress?(written, offset)
        }
    }
}
