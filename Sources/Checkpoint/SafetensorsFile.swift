import Foundation

/// One tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    /// The checkpoint name, e.g. `language_model.model.norm.weight`.
    public let name: String
    /// The dtype string as written in the header (`BF16`, `F32`, `I64`, ...).
    public let dtypeName: String
    /// The dimensions, outermost first.
    public let shape: [Int]
    /// Absolute byte range of the data inside the file.
    public let byteRange: Range<Int>

    /// The dtype when it is one the loaders read, else nil.
    public var dtype: TensorDType? { TensorDType(rawValue: dtypeName) }

    /// The number of elements (product of the shape; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped `.safetensors` file whose header was validated strictly.
///
/// Validation: the 8-byte little-endian header length is bounded (100 MiB) and lies inside the file; the header is a
/// JSON object; every tensor has a known dtype, a non-negative shape and `data_offsets` inside the data section whose
/// length equals elements x dtype size; no two tensors overlap.
public final class SafetensorsFile: @unchecked Sendable {
    /// Upper bound on the JSON header, as in the reference implementation.
    public static let maxHeaderBytes = 100 * 1024 * 1024

    /// Element sizes of every dtype the format defines (for validation; only `TensorDType` cases are readable).
    static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8,
    ]

    /// The mapping that holds the tensor bytes.
    public let file: MappedFile
    /// Tensors by name.
    public let tensors: [String: TensorInfo]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]

    /// Maps and validates `path`.
    /// - Throws: `CheckpointError` naming the file and the first problem found.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        let fail = { (problem: String) in CheckpointError(file: path, problem) }
        guard file.count >= 8 else {
            throw fail("truncated: \(file.count) bytes, shorter than the 8-byte header length")
        }
        let lengthBytes = file.bytes(0..<8)
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(lengthBytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(headerLength) exceeds the \(Self.maxHeaderBytes)-byte limit (corrupt file?)")
        }
        guard headerLength >= 2, 8 + Int(headerLength) <= file.count else {
            throw fail("truncated: header of \(headerLength) bytes runs past the end of the \(file.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = file.count - dataStart
        let headerData = Data(file.bytes(8..<dataStart))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData, options: [])
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let object = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, entry) in map {
                    guard let text = entry as? String else { throw fail("__metadata__.\(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            tensors[name] = try Self.parseEntry(name: name, value: value, dataStart: dataStart,
                                                dataSize: dataSize, fail: fail)
        }
        // No overlaps: sort by start and compare neighbours.
        let ordered = tensors.values.sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        for (previous, next) in zip(ordered, ordered.dropFirst())
        where next.byteRange.lowerBound < previous.byteRange.upperBound && !next.byteRange.isEmpty {
            throw fail("tensors '\(previous.name)' and '\(next.name)' overlap")
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    private static func parseEntry(
        name: String, value: Any, dataStart: Int, dataSize: Int, fail: (String) -> CheckpointError
    ) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else { throw fail("tensor '\(name)': entry is not an object") }
        guard let dtypeName = entry["dtype"] as? String else { throw fail("tensor '\(name)': missing dtype") }
        guard let elementSize = elementSizes[dtypeName] else {
            throw fail("tensor '\(name)': unknown dtype '\(dtypeName)'")
        }
        guard let shapeValues = entry["shape"] as? [Any] else { throw fail("tensor '\(name)': missing shape") }
        var shape: [Int] = []
        var elements = 1
        for dim in shapeValues {
            guard let size = dim as? Int, size >= 0 else {
                throw fail("tensor '\(name)': shape \(shapeValues) has an invalid dimension")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("tensor '\(name)': shape \(shapeValues) is too large") }
            shape.append(size)
            elements = product
        }
        guard let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
            throw fail("tensor '\(name)': data_offsets must be two integers")
        }
        let begin = Int64(offsets[0]), end = Int64(offsets[1])
        guard begin >= 0, begin <= end else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] are not ordered")
        }
        guard end <= Int64(dataSize) else {
            throw fail("tensor '\(name)': data_offsets end \(end) points past the end of the data (\(dataSize) bytes; truncated file?)")
        }
        let (expected, overflow) = elements.multipliedReportingOverflow(by: elementSize)
        guard !overflow, Int64(expected) == end - begin else {
            throw fail("tensor '\(name)': \(end - begin) bytes stored but shape \(shape) x \(dtypeName) needs \(elements * elementSize)")
        }
        return TensorInfo(name: name, dtypeName: dtypeName, shape: shape,
                          byteRange: (dataStart + Int(begin))..<(dataStart + Int(end)))
    }

    /// The raw bytes of a tensor of this file.
    public func bytes(of info: TensorInfo) -> UnsafeRawBufferPointer { file.bytes(info.byteRange) }
}
