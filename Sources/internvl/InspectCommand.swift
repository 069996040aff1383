import ArgumentParser
import Checkpoint
import Foundation

/// `internvl inspect -m DIR`: what a checkpoint holds and what it needs to run.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's architecture, parameters per part, dtypes and memory per weight format.",
        discussion: """
            Reads config.json and the safetensors headers only (no weights are loaded), validating both.
            Example: internvl inspect -m Tests/Fixtures/internvl2-tiny/model
            """)

    @OptionGroup var model: ModelDirectoryOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let config = try InternVLConfiguration(directory: model.url)
        let store = try CheckpointStore(directory: model.url)
        let report = CheckpointReport(config: config, store: store)
        if json {
            let data = try JSONSerialization.data(withJSONObject: report.jsonObject, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(report.text(modelDir: model.modelDir))
        }
    }
}

/// Parameter counts and memory estimates of a checkpoint, by part.
struct CheckpointReport {
    /// The parts of an InternVL checkpoint, by tensor-name prefix.
    enum Part: String, CaseIterable {
        case vision, projector, llm
        var prefix: String {
            switch self {
            case .vision: return "vision_model."
            case .projector: return "mlp1."
            case .llm: return "language_model."
            }
        }
    }

    let config: InternVLConfiguration
    var parameters: [Part: Int] = [:]
    var other = 0
    var dtypes: [String: Int] = [:]
    /// Per format: bytes of the weights (matrices in the format; vectors and odd-width matrices in f32 / bf16).
    var bytesPerFormat: [String: Int] = [:]

    init(config: InternVLConfiguration, store: CheckpointStore) {
        self.config = config
        for info in store.tensors.values {
            let count = info.elementCount
            if let part = Part.allCases.first(where: { info.name.hasPrefix($0.prefix) }) {
                parameters[part, default: 0] += count
            } else {
                other += count
            }
            dtypes[info.dtypeName, default: 0] += count
            for format in StorageEstimate.formats {
                bytesPerFormat[format, default: 0] += StorageEstimate.bytes(of: info, format: format)
            }
        }
    }

    /// Bytes of KV cache per token of context (f32 keys and values over all layers).
    var kvBytesPerToken: Int { 2 * config.llm.layerCount * config.llm.kvHeadCount * config.llm.headDim * 4 }

    var total: Int { parameters.values.reduce(other, +) }

    func text(modelDir: String) -> String {
        let v = config.vision, l = config.llm
        var lines = [
            "model       \(modelDir)",
            "vision      InternViT: \(v.layerCount) layers, hidden \(v.hiddenSize), \(v.headCount) heads, mlp \(v.intermediateSize), \(v.norm.rawValue), \(v.imageSize)px / patch \(v.patchSize)",
            "projector   pixel shuffle \(config.pixelShuffleVersion) x\(config.downsampleRatio) -> MLP \(v.hiddenSize * 4) -> \(l.hiddenSize), \(config.imageTokensPerTile) tokens per tile",
            "llm         \(l.architecture.rawValue): \(l.layerCount) layers, hidden \(l.hiddenSize), \(l.headCount) heads / \(l.kvHeadCount) kv, ffn \(l.intermediateSize), vocab \(l.vocabularySize), rope theta \(Self.number(l.ropeTheta))\(Self.scalingText(l.ropeScaling)), max positions \(l.maxPositionEmbeddings)",
            "template    \(config.template), tiles \(config.minDynamicPatch)...\(config.maxDynamicPatch)\(config.useThumbnail ? " + thumbnail" : "")",
            "",
            "parameters",
        ]
        for part in Part.allCases {
            lines.append("  \(part.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0))\(Self.grouped(parameters[part] ?? 0))")
        }
        if other > 0 { lines.append("  other     \(Self.grouped(other))") }
        lines.append("  total     \(Self.grouped(total))")
        lines.append("")
        lines.append("dtypes      " + dtypes.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.grouped($0.value))" }.joined(separator: ", "))
        lines.append("")
        lines.append("weights in memory by format (matrices in the format, vectors in f32)")
        for format in StorageEstimate.formats {
            lines.append("  \(format.padding(toLength: 6, withPad: " ", startingAt: 0))\(Self.bytes(bytesPerFormat[format] ?? 0))")
        }
        lines.append("kv cache    \(Self.bytes(kvBytesPerToken)) per token of context (f32), \(Self.bytes(kvBytesPerToken * 8192)) for 8192 tokens")
        return lines.joined(separator: "\n")
    }

    var jsonObject: [String: Any] {
        [
            "architecture": config.llm.architecture.rawValue,
            "parameters": Dictionary(uniqueKeysWithValues: Part.allCases.map { ($0.rawValue, parameters[$0] ?? 0) })
                .merging(["other": other, "total": total]) { a, _ in a },
            "dtypes": dtypes,
            "weight_bytes": bytesPerFormat,
            "kv_bytes_per_token": kvBytesPerToken,
            "image_tokens_per_tile": config.imageTokensPerTile,
        ]
    }

    static func scalingText(_ scaling: LanguageModelConfiguration.RopeScaling?) -> String {
        switch scaling {
        case .dynamic(let factor): return ", dynamic NTK x\(number(factor))"
        case .linear(let factor): return ", linear x\(number(factor))"
        case nil: return ""
        }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// 8075365376 -> "8,075,365,376 (8.08 B)".
    static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var result = ""
        for (i, character) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        let scaled: String
        switch value {
        case 1_000_000_000...: scaled = String(format: " (%.2f B)", Double(value) / 1e9)
        case 1_000_000...: scaled = String(format: " (%.2f M)", Double(value) / 1e6)
        default: scaled = ""
        }
        return result + scaled
    }

    static func bytes(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value), unit = 0
        while amount >= 1024 && unit < units.count - 1 { amount /= 1024; unit += 1 }
        return unit == 0 ? "\(value) B" : String(format: "%.2f %@", amount, units[unit])
    }
}
