import Foundation

/// The weights of a model directory: a single `model.safetensors`, or shards listed by
/// `model.safetensors.index.json`. Files are memory-mapped; nothing is read until a tensor is asked for.
///
/// The store records which tensors were read, so a loader can insist that every stored tensor was used
/// (`unusedTensorNames`) and fail loudly on a checkpoint with names it does not understand.
public final class CheckpointStore: @unchecked Sendable {
    /// Name of the single-file checkpoint.
    public static let singleFileName = "model.safetensors"
    /// Name of the shard index of a sharded checkpoint.
    public static let indexFileName = "model.safetensors.index.json"

    /// The model directory.
    public let directory: URL
    /// Every tensor of the checkpoint, by name.
    public let tensors: [String: TensorInfo]
    private let fileOfTensor: [String: SafetensorsFile]
    private let lock = NSLock()
    private var readNames: Set<String> = []

    /// Opens the weights of `directory`.
    /// - Throws: `CheckpointError` naming the file at fault: no weights, a bad index, a shard missing a tensor the
    ///   index lists, a tensor in two shards, or any safetensors validation failure.
    public init(directory: URL) throws {
        self.directory = directory
        let indexURL = directory.appendingPathComponent(Self.indexFileName)
        let singleURL = directory.appendingPathComponent(Self.singleFileName)
        var tensors: [String: TensorInfo] = [:]
        var owners: [String: SafetensorsFile] = [:]
        if FileManager.default.fileExists(atPath: indexURL.path) {
            let weightMap = try Self.readWeightMap(indexURL)
            var shards: [String: SafetensorsFile] = [:]
            for shardName in Set(weightMap.values).sorted() {
                guard !shardName.contains("/"), !shardName.hasPrefix(".") else {
                    throw CheckpointError(file: indexURL.path, "weight_map names shard '\(shardName)' outside the model directory")
                }
                let shardPath = directory.appendingPathComponent(shardName).path
                guard FileManager.default.fileExists(atPath: shardPath) else {
                    throw CheckpointError(file: shardPath, "missing shard listed in \(Self.indexFileName)")
                }
                shards[shardName] = try SafetensorsFile(path: shardPath)
            }
            for (name, shardName) in weightMap {
                let shard = shards[shardName]!
                guard let info = shard.tensors[name] else {
                    throw CheckpointError(file: shard.file.path, "tensor '\(name)' listed in \(Self.indexFileName) is not in this shard")
                }
                tensors[name] = info
                owners[name] = shard
            }
            for shard in shards.values {
                for name in shard.tensors.keys where weightMap[name] == nil {
                    throw CheckpointError(file: shard.file.path, "tensor '\(name)' is not listed in \(Self.indexFileName)")
                }
            }
        } else if FileManager.default.fileExists(atPath: singleURL.path) {
            let file = try SafetensorsFile(path: singleURL.path)
            tensors = file.tensors
            for name in tensors.keys { owners[name] = file }
        } else {
            throw CheckpointError(
                file: directory.path, "no weights: neither \(Self.singleFileName) nor \(Self.indexFileName) exists")
        }
        self.tensors = tensors
        self.fileOfTensor = owners
    }

    private static func readWeightMap(_ url: URL) throws -> [String: String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError(file: url.path, "cannot read: \(error.localizedDescription)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CheckpointError(file: url.path, "not a JSON object")
        }
        guard let map = object["weight_map"] as? [String: Any] else {
            throw CheckpointError(file: url.path, "missing key 'weight_map'")
        }
        var result: [String: String] = [:]
        for (name, value) in map {
            guard let shard = value as? String else {
                throw CheckpointError(file: url.path, "weight_map.\(name) is not a file name")
            }
            result[name] = shard
        }
        return result
    }

    /// The file a tensor is stored in (for error messages).
    public func filePath(of name: String) -> String {
        fileOfTensor[name]?.file.path ?? directory.path
    }

    /// The tensor `name` with its raw bytes; marks it as used.
    /// - Throws: `CheckpointError` when the tensor does not exist or has an unexpected shape.
    public func tensor(_ name: String, shape expected: [Int]? = nil) throws -> TensorData {
        guard let info = tensors[name], let file = fileOfTensor[name] else {
            throw CheckpointError(file: directory.path, "missing tensor '\(name)'")
        }
        if let expected, expected != info.shape {
            throw CheckpointError(file: file.file.path, "tensor '\(name)' has shape \(info.shape), expected \(expected)")
        }
        guard info.dtype != nil else {
            throw CheckpointError(
                file: file.file.path,
                "tensor '\(name)' has dtype \(info.dtypeName); supported: \(TensorDType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        lock.lock()
        readNames.insert(name)
        lock.unlock()
        return TensorData(info: info, bytes: file.bytes(of: info), owner: file)
    }

    /// Stored tensors that no `tensor(_:)` call has read, sorted.
    public var unusedTensorNames: [String] {
        lock.lock()
        defer { lock.unlock() }
        return tensors.keys.filter { !readNames.contains($0) }.sorted()
    }

    /// Total bytes of all stored tensors.
    public var totalBytes: Int { tensors.values.reduce(0) { $0 + $1.byteRange.count } }
}

/// A tensor's bytes inside a mapped checkpoint file, with conversions to Float.
public struct TensorData: @unchecked Sendable {
    /// Name, dtype and shape.
    public let info: TensorInfo
    /// The stored bytes (little-endian elements).
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the mapping alive while this value exists.
    let owner: SafetensorsFile

    /// The stored dtype (validated when the tensor was looked up).
    public var dtype: TensorDType { info.dtype! }

    /// Writes all elements as Float into `destination`, which must hold `info.elementCount` values.
    public func copyFloats(into destination: UnsafeMutablePointer<Float>) {
        let count = info.elementCount
        switch dtype {
        case .f32:
            for i in 0..<count { destination[i] = bytes.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .bf16:
            for i in 0..<count {
                destination[i] = ElementConversion.float(bf16: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
        case .f16:
            for i in 0..<count {
                destination[i] = ElementConversion.float(f16: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
        }
    }

    /// All elements as Float.
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initialized in
            copyFloats(into: buffer.baseAddress!)
            initialized = info.elementCount
        }
    }

    /// The elements as bfloat16 bit patterns (converting F32/F16 by round-to-nearest-even).
    public func bf16Bits() -> [UInt16] {
        let count = info.elementCount
        if dtype == .bf16 {
            return [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count { buffer[i] = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) }
                initialized = count
            }
        }
        return floats().map(ElementConversion.bf16)
    }
}
