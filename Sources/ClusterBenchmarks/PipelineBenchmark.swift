import Cluster
import Foundation
import Wire

/// Generated tokens per second of a local cluster: writes a cluster file on free loopback ports (coordinator, one
/// vision worker, `stages` LLM stages with layers split evenly), starts every role as a child process of the
/// `internvl` binary, waits for "cluster ready", sends `concurrency` text-only requests at once (different
/// prompts, greedy, `maxNewTokens` each) through `ClusterClient.generate`, and stops the cluster.
public struct PipelineBenchmark {
    /// The model the cluster runs (cluster.yaml `model.path`).
    public var modelDirectory: URL
    /// Decoder layers of the model, split evenly over the stages.
    public var layerCount: Int
    /// LLM stages (worker processes) of the cluster.
    public var stages: Int
    /// Requests sent at once.
    public var concurrency: Int
    /// New tokens per request at most.
    public var maxNewTokens: Int
    /// Compute threads of each LLM stage.
    public var stageThreads: Int
    /// cluster.yaml `model.weights`.
    public var weights: String
    /// cluster.yaml `activations`: f32 or int8.
    public var activations: String
    /// KV-cache bytes per token per layer (2 x kv heads x head dim x 4), to size each stage's budget.
    public var kvBytesPerTokenPerLayer: Int
    /// Seconds to wait for the cluster to become ready and for each request.
    public var timeout: TimeInterval

    /// Longest prompt a request may have (the prompts are one short line).
    static let maxPromptTokens = 256

    /// A benchmark of one topology; nothing starts before `run`.
    public init(modelDirectory: URL, layerCount: Int, stages: Int, concurrency: Int, maxNewTokens: Int,
                stageThreads: Int, weights: String, activations: String, kvBytesPerTokenPerLayer: Int, timeout: TimeInterval) {
        self.modelDirectory = modelDirectory
        self.layerCount = layerCount
        self.stages = stages
        self.concurrency = concurrency
        self.maxNewTokens = maxNewTokens
        self.stageThreads = stageThreads
        self.weights = weights
        self.activations = activations
        self.kvBytesPerTokenPerLayer = kvBytesPerTokenPerLayer
        self.timeout = timeout
    }

    /// Layer ranges of the stages (the split `cluster check` makes when ranges are omitted).
    public var layerRanges: [Range<Int>] {
        ClusterPlan.split(layerCount: layerCount, speeds: Array(repeating: 1, count: stages))
    }

    /// The cluster file for `ports` (2 for the coordinator, then one per stage).
    func clusterFile(ports: [Int]) -> String {
        let tokens = Self.maxPromptTokens + maxNewTokens
        var lines = [
            "model: { path: \"\(modelDirectory.path)\", weights: \(weights) }",
            "coordinator: { control: \"tcp://127.0.0.1:\(ports[0])\", clients: \"tcp://127.0.0.1:\(ports[1])\" }",
            "activations: \(activations)",
            "limits: { max_prompt_tokens: \(Self.maxPromptTokens), max_new_tokens: \(maxNewTokens) }",
            "workers:",
            "  - { name: vision, role: vision, threads: 1 }",
        ]
        for (index, range) in layerRanges.enumerated() {
            // Room for every concurrent sequence at full length, in MiB, rounded up.
            let bytes = kvBytesPerTokenPerLayer * range.count * tokens * concurrency
            let megabytes = max(1, (bytes + (1 << 20) - 1) >> 20) + 1
            lines.append("  - { name: llm-\(index + 1), role: llm, layers: [\(range.lowerBound), \(range.upperBound)], "
                         + "threads: \(stageThreads), kv_cache_mb: \(megabytes), port: \(ports[2 + index]) }")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs the cluster in `group` (stopped before returning, also on error); `progress` gets lines for stderr.
    public func run(in group: ClusterProcessGroup, workDirectory: URL, progress: (String) -> Void) throws -> ClusterBenchRecord {
        precondition(stages > 0 && concurrency > 0 && maxNewTokens > 0, "counts must be positive")
        let ports = try LoopbackPorts.take(2 + stages)
        let file = workDirectory.appendingPathComponent("cluster-\(stages)-stage.yaml")
        try clusterFile(ports: ports).write(to: file, atomically: true, encoding: .utf8)
        defer { group.stopAll() }

        let names = ["vision"] + (1...stages).map { "llm-\($0)" }
        progress("starting a \(stages)-stage cluster: coordinator, \(names.joined(separator: ", ")) (\(file.path))")
        let started = Date()
        try group.startCluster(file: file, workers: names, readyTimeout: timeout)
        progress("\(stages)-stage cluster ready after \(String(format: "%.1f", Date().timeIntervalSince(started))) s; "
                 + "sending \(concurrency) requests of \(maxNewTokens) tokens")

        let endpoint = "tcp://127.0.0.1:\(ports[1])"
        let results = ResultSlots(count: concurrency)
        let finished = DispatchGroup()
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<concurrency {
            let request = makeRequest(index)
            finished.enter()
            let timeout = timeout
            let thread = Thread {
                defer { finished.leave() }
                do {
                    let result = try ClusterClient.generate(request, images: [], endpoint: endpoint,
                                                            timeout: .seconds(Int64(timeout.rounded(.up))))
                    results.set(index, .success(result.ids.count))
                } catch {
                    results.set(index, .failure(error))
                }
            }
            thread.name = "bench-client-\(index)"
            thread.start()
        }
        finished.wait()
        let elapsed = seconds(clock.now - start)
        var tokens = 0
        for (index, outcome) in results.all.enumerated() {
            switch outcome {
            case .success(let count): tokens += count
            case .failure(let error): throw BenchmarkError("request \(index + 1) on the \(stages)-stage cluster failed: \(error)")
            case nil: throw BenchmarkError("request \(index + 1) on the \(stages)-stage cluster did not finish")
            }
        }
        return .pipeline(stages: stages, concurrency: concurrency, maxNewTokens: maxNewTokens, requests: concurrency,
                         tokens: tokens, seconds: elapsed)
    }
}

extension PipelineBenchmark {
    /// Request `index`: a one-line text prompt of its own, greedy, `maxNewTokens` new tokens at most.
    func makeRequest(_ index: Int) -> Internvl_V1_GenerateRequest {
        var request = Internvl_V1_GenerateRequest()
        request.question = "Request \(index + 1): write a short story about the number \(index * 7 + 3)."
        request.maxNewTokens = UInt32(maxNewTokens)
        return request
    }
}

/// One outcome slot per request, written by the request threads.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Int, Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ outcome: Result<Int, Error>) { lock.withLock { slots[index] = outcome } }

    var all: [Result<Int, Error>?] { lock.withLock { slots } }
}
