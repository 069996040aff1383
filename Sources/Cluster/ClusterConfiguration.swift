import Foundation
import Yams

/// A cluster description (`cluster.yaml`): the model, the coordinator's endpoints, the workers and the limits.
///
/// Decoding checks types; `validate()` checks meaning (unique names, endpoints, layer ranges); both report the file
/// and the field path, e.g. `cluster.yaml: workers[2].layers: [16, 40] ends past the model's 32 layers`.
public struct ClusterConfiguration: Codable, Sendable, Equatable {
    public struct Model: Codable, Sendable, Equatable {
        /// The model directory (Hugging Face InternVL2 layout). Relative paths are relative to the YAML file.
        public var path: String
        /// Weight format the workers run: bf16, f32, q8_0 or q4_0.
        public var weights: String?
        /// How exactly the workers' matmuls use activations: exact (the default) or fast (see `--precision`).
        public var precision: String?
    }

    public struct Coordinator: Codable, Sendable, Equatable {
        /// Where workers connect for control messages (ROUTER), e.g. tcp://127.0.0.1:5550.
        public var control: String
        /// Where clients (`internvl run -c`, `submit`) connect, e.g. tcp://127.0.0.1:5551.
        public var clients: String
        /// Host:port of the OpenAI-compatible HTTP server, if any.
        public var http: String?
        /// The SQLite job store.
        public var store: String?
        /// Threads of the coordinator (tokenization, image preprocessing).
        public var threads: Int?
    }

    public enum Role: String, Codable, Sendable {
        case vision, llm
    }

    public struct Worker: Codable, Sendable, Equatable {
        public var name: String
        /// The host the worker runs on; `internvl cluster up` starts the workers whose host is local.
        public var host: String?
        public var role: Role
        /// Decoder layers [begin, end) of an LLM stage; omit on every stage to split by `speed`.
        public var layers: [Int]?
        public var threads: Int?
        /// KV-cache budget of an LLM stage in MiB.
        public var kvCacheMB: Int?
        /// Relative speed used to split layers when ranges are omitted (default 1).
        public var speed: Double?
        /// Port this worker binds for activations from the previous stage.
        public var port: Int?
        /// Memory the worker may use for weights and KV cache in MiB; checked by `cluster check`.
        public var memoryMB: Int?

        enum CodingKeys: String, CodingKey {
            case name, host, role, layers, threads, speed, port
            case kvCacheMB = "kv_cache_mb"
            case memoryMB = "memory_mb"
        }
    }

    public struct Limits: Codable, Sendable, Equatable {
        public var maxTiles: Int?
        public var maxImagePixels: Int?
        public var maxPromptTokens: Int?
        public var maxNewTokens: Int?

        enum CodingKeys: String, CodingKey {
            case maxTiles = "max_tiles"
            case maxImagePixels = "max_image_pixels"
            case maxPromptTokens = "max_prompt_tokens"
            case maxNewTokens = "max_new_tokens"
        }
    }

    public var model: Model
    public var coordinator: Coordinator
    public var workers: [Worker]
    public var limits: Limits?
    /// Activations between stages: f32 (exact) or int8 (per-row scales, 4x fewer bytes).
    public var activations: String?

    /// Weight formats a worker can run.
    public static let weightFormats = ["bf16", "f32", "q8_0", "q4_0"]

    /// Defaults applied where the file is silent.
    public enum Defaults {
        public static let weights = "bf16"
        public static let precision = "exact"
        public static let threads = 1
        public static let kvCacheMB = 1024
        public static let maxTiles = 12
        public static let maxImagePixels = 40_000_000
        public static let maxPromptTokens = 8192
        public static let maxNewTokens = 1024
        public static let activations = "f32"
        public static let host = "127.0.0.1"
    }

    public var weightFormat: String { model.weights ?? Defaults.weights }
    /// The workers' matmul precision: "exact" or "fast".
    public var precision: String { model.precision ?? Defaults.precision }
    public var activationEncoding: String { activations ?? Defaults.activations }
    public var effectiveLimits: (maxTiles: Int, maxImagePixels: Int, maxPromptTokens: Int, maxNewTokens: Int) {
        (limits?.maxTiles ?? Defaults.maxTiles, limits?.maxImagePixels ?? Defaults.maxImagePixels,
         limits?.maxPromptTokens ?? Defaults.maxPromptTokens, limits?.maxNewTokens ?? Defaults.maxNewTokens)
    }

    /// Parses YAML text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws -> ClusterConfiguration {
        let configuration: ClusterConfiguration
        do {
            configuration = try YAMLDecoder().decode(ClusterConfiguration.self, from: text)
        } catch let error as DecodingError {
            throw ClusterConfigurationError(file: file, DecodingErrorText.describe(error))
        } catch {
            throw ClusterConfigurationError(file: file, "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        try configuration.validate(file: file)
        return configuration
    }

    /// Reads and validates a cluster file.
    public static func load(path: String) throws -> ClusterConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterConfigurationError(file: path, "cannot read: no such file or not readable")
        }
        var configuration = try parse(String(decoding: data, as: UTF8.self), file: path)
        if !configuration.model.path.hasPrefix("/") {
            let base = URL(fileURLWithPath: path).deletingLastPathComponent()
            configuration.model.path = base.appendingPathComponent(configuration.model.path).standardized.path
        }
        return configuration
    }

    /// Checks everything that does not need the model: names, endpoints, numbers, the shape of layer ranges.
    public func validate(file: String) throws {
        func fail(_ field: String, _ problem: String) -> ClusterConfigurationError {
            ClusterConfigurationError(file: file, field: field, problem)
        }
        guard Self.weightFormats.contains(weightFormat) else {
            throw fail("model.weights", "is '\(weightFormat)'; expected one of \(Self.weightFormats.joined(separator: ", "))")
        }
        guard ["exact", "fast"].contains(precision) else {
            throw fail("model.precision", "is '\(precision)'; expected exact or fast")
        }
        guard ["f32", "int8"].contains(activationEncoding) else {
            throw fail("activations", "is '\(activationEncoding)'; expected f32 or int8")
        }
        for (field, endpoint) in [("coordinator.control", coordinator.control), ("coordinator.clients", coordinator.clients)] {
            guard Endpoint(endpoint) != nil else {
                throw fail(field, "is '\(endpoint)'; expected tcp://HOST:PORT or ipc://PATH")
            }
        }
        if coordinator.control == coordinator.clients {
            throw fail("coordinator.clients", "is the same endpoint as coordinator.control")
        }
        if let threads = coordinator.threads, threads < 1 { throw fail("coordinator.threads", "is \(threads); must be >= 1") }
        guard !workers.isEmpty else { throw fail("workers", "is empty; a cluster needs at least one llm worker") }
        var names = Set<String>()
        var ports = Set<String>()
        for (index, worker) in workers.enumerated() {
            let at = "workers[\(index)]"
            guard !worker.name.isEmpty, worker.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw fail("\(at).name", "'\(worker.name)' must be non-empty letters, digits, '-', '_' or '.'")
            }
            guard names.insert(worker.name).inserted else { throw fail("\(at).name", "'\(worker.name)' is used twice") }
            if let threads = worker.threads, threads < 1 { throw fail("\(at).threads", "is \(threads); must be >= 1") }
            if let speed = worker.speed, !(speed > 0) { throw fail("\(at).speed", "is \(speed); must be > 0") }
            if let kv = worker.kvCacheMB, kv < 1 { throw fail("\(at).kv_cache_mb", "is \(kv); must be >= 1") }
            if let port = worker.port {
                guard (1...65535).contains(port) else { throw fail("\(at).port", "is \(port); must be 1...65535") }
                guard ports.insert("\(worker.host ?? Defaults.host):\(port)").inserted else {
                    throw fail("\(at).port", "\(port) is used twice on host \(worker.host ?? Defaults.host)")
                }
            }
            if worker.role == .vision {
                if worker.layers != nil { throw fail("\(at).layers", "is set on a vision worker") }
                if worker.kvCacheMB != nil { throw fail("\(at).kv_cache_mb", "is set on a vision worker") }
            }
            if let layers = worker.layers {
                guard layers.count == 2, layers[0] >= 0, layers[0] < layers[1] else {
                    throw fail("\(at).layers", "is \(layers); expected [begin, end) with 0 <= begin < end")
                }
            }
        }
        let llm = workers.enumerated().filter { $0.element.role == .llm }
        guard !llm.isEmpty else { throw fail("workers", "has no llm worker") }
        guard workers.contains(where: { $0.role == .vision }) else {
            throw fail("workers", "has no vision worker; images could not be encoded")
        }
        let withLayers = llm.filter { $0.element.layers != nil }
        if !withLayers.isEmpty && withLayers.count != llm.count {
            let missing = llm.first { $0.element.layers == nil }!
            throw fail("workers[\(missing.offset)].layers", "is missing; give layers on every llm worker or on none")
        }
        var expectedBegin = 0
        for (index, worker) in withLayers {
            let layers = worker.layers!
            guard layers[0] == expectedBegin else {
                throw fail("workers[\(index)].layers", "is \(layers) but the previous stage ends at \(expectedBegin); stages must be contiguous, in file order")
            }
            expectedBegin = layers[1]
        }
        let limits = effectiveLimits
        for (field, value, range) in [("limits.max_tiles", limits.maxTiles, 1...40),
                                      ("limits.max_image_pixels", limits.maxImagePixels, 1...1_000_000_000),
                                      ("limits.max_prompt_tokens", limits.maxPromptTokens, 1...10_000_000),
                                      ("limits.max_new_tokens", limits.maxNewTokens, 1...10_000_000)]
        where !range.contains(value) {
            throw fail(field, "is \(value); must be \(range.lowerBound)...\(range.upperBound)")
        }
    }
}

/// A bad cluster file: one line naming the file, the field and the problem.
public struct ClusterConfigurationError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let field: String?
    public let problem: String

    public init(file: String, field: String? = nil, _ problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String {
        if let field { return "\(file): \(field): \(problem)" }
        return "\(file): \(problem)"
    }
}

/// A ZeroMQ endpoint of the forms the cluster uses.
public struct Endpoint: Equatable, Sendable {
    public var transport: String
    public var address: String
    public var port: Int?

    public init?(_ text: String) {
        if text.hasPrefix("ipc://") || text.hasPrefix("inproc://") {
            guard let range = text.range(of: "://"), !text[range.upperBound...].isEmpty else { return nil }
            transport = String(text[..<range.lowerBound])
            address = String(text[range.upperBound...])
            port = nil
            return
        }
        guard text.hasPrefix("tcp://") else { return nil }
        let rest = text.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
              (1...65535).contains(port), colon != rest.startIndex else { return nil }
        transport = "tcp"
        address = String(rest[..<colon])
        self.port = port
    }
}

/// Turns Swift's DecodingError into "field: problem" text.
enum DecodingErrorText {
    static func path(_ codingPath: [CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "(top level)" : text
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(typeName(type)), found nothing"
        case .dataCorrupted(let context):
            let detail = context.debugDescription.split(separator: "\n").first.map(String.init) ?? "invalid value"
            return "\(path(context.codingPath)): \(detail)"
        @unknown default:
            return "invalid document"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is [Int].Type: return "a list of integers"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "a mapping" }
            return "a \(name)"
        }
    }
}
