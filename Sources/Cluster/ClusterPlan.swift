import Checkpoint
import Foundation

/// Where every part of the model runs, and what each worker and link will need.
public struct ClusterPlan: Sendable {
    public struct Placement: Sendable, Equatable {
        public var worker: String
        public var role: ClusterConfiguration.Role
        /// Decoder layers [begin, end) of an LLM stage (empty for vision).
        public var layers: Range<Int>
        public var weightBytes: Int
        public var kvBudgetBytes: Int
        /// Tokens of context the KV budget holds (one sequence), 0 for vision.
        public var kvTokenCapacity: Int
        public var threads: Int
        public var hasEmbeddings: Bool
        public var hasHead: Bool
    }

    public var placements: [Placement]
    /// Bytes sent per token between consecutive LLM stages (hidden state in the configured encoding).
    public var linkBytesPerToken: Int
    /// Bytes of image embeddings per tile sent to the first stage.
    public var imageBytesPerTile: Int
    public var layerCount: Int
    /// KV-cache bytes one position takes in one decoder layer (keys and values, float32: 2 x kv heads x head dim x 4).
    public var kvBytesPerPositionPerLayer: Int

    /// Splits `layerCount` layers over stages in proportion to `speeds` (each stage gets at least one layer).
    public static func split(layerCount: Int, speeds: [Double]) -> [Range<Int>] {
        let total = speeds.reduce(0, +)
        var ranges: [Range<Int>] = []
        var begin = 0
        var cumulative = 0.0
        for (index, speed) in speeds.enumerated() {
            cumulative += speed
            let remainingStages = speeds.count - index - 1
            var end = index == speeds.count - 1 ? layerCount : Int((Double(layerCount) * cumulative / total).rounded())
            end = min(max(end, begin + 1), layerCount - remainingStages)
            ranges.append(begin..<end)
            begin = end
        }
        return ranges
    }

    /// Resolves the configuration against a model: layer ranges, memory per worker, bytes per link.
    /// - Throws: `ClusterConfigurationError` for an impossible placement (ranges outside the model, more stages than
    ///   layers, weights or KV over a worker's memory, a KV budget too small for even the shortest request: one
    ///   prompt token plus max_new_tokens). A budget between that and one maximal request is accepted: the
    ///   coordinator then refuses, at admission, each request whose prompt + max_new_tokens positions cannot fit.
    public init(configuration: ClusterConfiguration, model: InternVLConfiguration, store: CheckpointStore,
                file: String) throws {
        func fail(_ field: String, _ problem: String) -> ClusterConfigurationError {
            ClusterConfigurationError(file: file, field: field, problem)
        }
        let llm = model.llm
        layerCount = llm.layerCount
        let llmWorkers = configuration.workers.enumerated().filter { $0.element.role == .llm }
        guard llmWorkers.count <= llm.layerCount else {
            throw fail("workers", "has \(llmWorkers.count) llm stages for a model of \(llm.layerCount) layers")
        }
        var ranges: [Range<Int>]
        if llmWorkers.first?.element.layers != nil {
            ranges = llmWorkers.map { $0.element.layers![0]..<$0.element.layers![1] }
            if let (index, worker) = llmWorkers.last, ranges.last!.upperBound != llm.layerCount {
                throw fail("workers[\(index)].layers",
                           "is \(worker.layers!) but the model has \(llm.layerCount) layers; the last stage must end at \(llm.layerCount)")
            }
        } else {
            ranges = Self.split(layerCount: llm.layerCount, speeds: llmWorkers.map { $0.element.speed ?? 1 })
        }

        // Weight bytes by owner.
        let format = configuration.weightFormat
        var layerBytes = [Int](repeating: 0, count: llm.layerCount)
        var embeddingBytes = 0, headBytes = 0, visionBytes = 0
        let layerPrefix = "language_model.model.layers."
        for info in store.tensors.values {
            let bytes = StorageEstimate.bytes(of: info, format: format)
            if info.name.hasPrefix(layerPrefix) {
                let rest = info.name.dropFirst(layerPrefix.count)
                if let layer = Int(rest.prefix { $0 != "." }), layer < llm.layerCount { layerBytes[layer] += bytes }
            } else if info.name.hasPrefix("language_model.model.tok_embeddings.") {
                embeddingBytes += bytes
            } else if info.name.hasPrefix("language_model.") {
                headBytes += bytes
            } else {
                visionBytes += bytes
            }
        }
        let kvBytesPerTokenPerLayer = 2 * llm.kvHeadCount * llm.headDim * 4
        let limits = configuration.effectiveLimits
        let tokensNeeded = 1 + limits.maxNewTokens

        var placements: [Placement] = []
        var stage = 0
        for (index, worker) in configuration.workers.enumerated() {
            let threads = worker.threads ?? ClusterConfiguration.Defaults.threads
            var placement: Placement
            if worker.role == .vision {
                placement = Placement(worker: worker.name, role: .vision, layers: 0..<0, weightBytes: visionBytes,
                                      kvBudgetBytes: 0, kvTokenCapacity: 0, threads: threads,
                                      hasEmbeddings: false, hasHead: false)
            } else {
                let range = ranges[stage]
                stage += 1
                let first = range.lowerBound == 0, last = range.upperBound == llm.layerCount
                let weights = layerBytes[range].reduce(0, +) + (first ? embeddingBytes : 0) + (last ? headBytes : 0)
                let kvBudget = (worker.kvCacheMB ?? ClusterConfiguration.Defaults.kvCacheMB) << 20
                let capacity = kvBudget / (kvBytesPerTokenPerLayer * range.count)
                if capacity < tokensNeeded {
                    throw fail("workers[\(index)].kv_cache_mb",
                               "\(kvBudget >> 20) MiB holds \(capacity) tokens for layers \(range.lowerBound)..<\(range.upperBound), but the shortest request needs \(tokensNeeded) (1 prompt token + limits.max_new_tokens)")
                }
                placement = Placement(worker: worker.name, role: .llm, layers: range, weightBytes: weights,
                                      kvBudgetBytes: kvBudget, kvTokenCapacity: capacity, threads: threads,
                                      hasEmbeddings: first, hasHead: last)
            }
            if let memory = worker.memoryMB, placement.weightBytes + placement.kvBudgetBytes > memory << 20 {
                throw fail("workers[\(index)].memory_mb",
                           "is \(memory) MiB but \(worker.name) needs \((placement.weightBytes + placement.kvBudgetBytes) >> 20) MiB (weights \(placement.weightBytes >> 20) MiB in \(format) + KV \(placement.kvBudgetBytes >> 20) MiB)")
            }
            placements.append(placement)
        }
        self.placements = placements
        linkBytesPerToken = configuration.activationEncoding == "int8" ? llm.hiddenSize + 4 : llm.hiddenSize * 4
        imageBytesPerTile = model.imageTokensPerTile * llm.hiddenSize * 4
        kvBytesPerPositionPerLayer = kvBytesPerTokenPerLayer
    }
}
