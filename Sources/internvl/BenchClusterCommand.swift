import ArgumentParser
import Checkpoint
import Cluster
import ClusterBenchmarks
import Foundation
import Kernels
import ModelFactory
import Models

/// `internvl bench cluster`: what the cluster's links cost next to its compute. Per-hop latency of a decode step,
/// activation throughput over loopback, per-stage decode compute, tokens/s of 1 stage vs 2 stages under concurrent
/// requests, and where a token's time goes (compute vs transfer). Build with `-c release`.
struct BenchClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Measure cluster links and 1- vs 2-stage tokens/s on this machine (release build).",
        discussion: """
            Prints one line per result, in this order (one JSON object per line with --json):

            hop latency: a ForwardBatch envelope plus one hidden-state row of H floats over PUSH/PULL tcp loopback, \
            ping-pong; the median and p99 of round trip / 2 over --round-trips.

            throughput: --messages messages of --rows x H activations, f32 and int8 per row, sent one way with many \
            in flight, encoded and decoded as a stage does; GB/s on the wire and GB/s of f32 activations.

            stage compute: one decode step of each stage's layers, in process on the same model (--context tokens \
            cached, the median of --steps steps; embeddings on the first stage, norm and head on the last).

            pipeline: for each --stages count, a local cluster (coordinator, a vision worker, LLM stages with the \
            layers split evenly) on free loopback ports, started as child processes of this binary; \
            --concurrency text-only requests at once, --max-new-tokens each; generated tokens/s.

            per token: G (a token) = I (the compute of every stage in turn) + T (the transfer: stages + 1 hops at \
            the measured hop latency for the model's H), like distributed-llama prints.

            H is the hidden size of -m's model (--hidden overrides it; 4096, InternVL2-8B's, without -m). Without -m \
            the compute and pipeline parts run a tiny random model made in a temporary directory. Progress lines go \
            to stderr. Every cluster process is stopped afterwards, also on error or Ctrl-C.
            """)

    @Option(name: [.customShort("m"), .long], help: ArgumentHelp(
        "Model directory for compute and pipeline (default: a tiny random model in a temporary directory).",
        valueName: "dir"))
    var modelDir: String?

    @Option(help: "Hidden size H of the link messages (default: the model's, or 4096 without -m).")
    var hidden: Int?

    @Option(help: "Ping-pong round trips timed for the hop latency.")
    var roundTrips: Int = 1000

    @Option(help: "Rows per prefill-sized message for the throughput.")
    var rows: Int = 512

    @Option(help: "Messages sent per encoding for the throughput.")
    var messages: Int = 64

    @Option(help: "Tokens cached before the timed decode steps of the stage compute.")
    var context: Int = 64

    @Option(help: "Timed decode steps per stage (the median is reported).")
    var steps: Int = 16

    @Option(name: .long, parsing: .upToNextOption, help: "Numbers of LLM stages to run the pipeline with.")
    var stages: [Int] = [1, 2]

    @Option(help: "Requests sent at once to each cluster.")
    var concurrency: Int = 8

    @Option(help: "New tokens each request generates at most (max_new_tokens).")
    var maxNewTokens: Int = 32

    @Option(help: "Compute threads of each LLM stage (and of the in-process stage compute).")
    var stageThreads: Int = 1

    @Option(help: "Weight format of the stages: bf16, f32, q8_0 or q4_0.")
    var weights: String = "bf16"

    @Option(help: "Activations between stages in the pipeline clusters: f32 or int8.")
    var activations: String = "f32"

    @Option(help: "Seconds to wait for a cluster to be ready, and for each request.")
    var timeout: Int = 600

    @Flag(name: .long, help: "Print one JSON object per line instead of text.")
    var json = false

    func validate() throws {
        for (name, value) in [("--round-trips", roundTrips), ("--rows", rows), ("--messages", messages),
                              ("--context", context), ("--steps", steps), ("--concurrency", concurrency),
                              ("--max-new-tokens", maxNewTokens), ("--stage-threads", stageThreads),
                              ("--timeout", timeout)] where value < 1 {
            throw ValidationError("\(name) must be at least 1 (got \(value))")
        }
        if let hidden, hidden < 1 { throw ValidationError("--hidden must be at least 1 (got \(hidden))") }
        if stages.isEmpty || stages.contains(where: { $0 < 1 }) {
            throw ValidationError("--stages must list stage counts of at least 1 (got \(stages))")
        }
        if WeightFormat(rawValue: weights) == nil {
            throw ValidationError("--weights: unknown format '\(weights)' (use bf16, f32, q8_0, q4_0)")
        }
        if !["f32", "int8"].contains(activations) {
            throw ValidationError("--activations: unknown encoding '\(activations)' (use f32 or int8)")
        }
        if let modelDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: modelDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("model directory '\(modelDir)' does not exist")
            }
        }
    }

    func run() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("internvl-bench-cluster-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let group = ClusterProcessGroup(executable: ClusterProcessGroup.currentExecutable)
        let signals = SignalWatcher([SIGINT, SIGTERM]) {
            group.stopAll()
            try? FileManager.default.removeItem(at: work)
            Foundation.exit(130)
        }
        defer { _ = signals }
        do {
            try measure(group: group, work: work)
        } catch {
            group.stopAll()
            FileHandle.standardError.write(Data("internvl bench cluster: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func emit(_ record: ClusterBenchRecord) {
        print(json ? record.json : record.text)
        fflush(stdout)
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("bench cluster: \(text)\n".utf8))
    }

    private func measure(group: ClusterProcessGroup, work: URL) throws {
        let model: URL
        if let modelDir {
            model = URL(fileURLWithPath: modelDir, isDirectory: true)
        } else {
            model = work.appendingPathComponent("tiny-model", isDirectory: true)
            progress("making the tiny random model in \(model.path)")
            try RandomCheckpoint(preset: .tiny).write(to: model)
        }
        let llm = try InternVLConfiguration(directory: model).llm
        let linkHidden = hidden ?? (modelDir == nil ? 4096 : llm.hiddenSize)

        // a. One decode step's hop.
        let hop = try HopLatencyBenchmark(hidden: linkHidden, roundTrips: roundTrips).run()
        emit(hop)
        guard case .hopLatency(_, _, _, let hopSeconds, _) = hop else { return }

        // b. Prefill-sized activations, f32 and int8 per row.
        for encoding in ActivationThroughputBenchmark.Encoding.allCases {
            emit(try ActivationThroughputBenchmark(rows: rows, hidden: linkHidden, messages: messages, encoding: encoding).run())
        }

        // d (compute part). Each topology's stages, in process.
        try ComputeThreads.configure(threads: stageThreads)
        let compute = try StageComputeBenchmark(modelDirectory: model, weightFormat: WeightFormat(rawValue: weights)!,
                                                context: context, steps: steps)
        var stageSeconds: [Int: [Double]] = [:]
        for count in stages {
            let ranges = pipeline(model: model, llm: llm, stages: count).layerRanges
            var times: [Double] = []
            for (index, range) in ranges.enumerated() {
                let seconds = try compute.secondsPerStep(layers: range)
                times.append(seconds)
                emit(.stageCompute(stages: count, stage: index, layers: range, context: context, seconds: seconds))
            }
            stageSeconds[count] = times
        }

        // c. Tokens/s of each topology.
        for count in stages {
            emit(try pipeline(model: model, llm: llm, stages: count).run(in: group, workDirectory: work, progress: progress))
        }

        // d. Where a token's time goes: the hidden-state hop measured at this model's H when it differs.
        let tokenHop: Double
        if linkHidden == llm.hiddenSize {
            tokenHop = hopSeconds
        } else if case .hopLatency(_, _, _, let median, _) = try HopLatencyBenchmark(hidden: llm.hiddenSize, roundTrips: roundTrips).run() {
            tokenHop = median
        } else {
            tokenHop = hopSeconds
        }
        for count in stages {
            emit(.perToken(stages: count, computeSeconds: stageSeconds[count] ?? [], hops: count + 1,
                           transferSeconds: Double(count + 1) * tokenHop))
        }
    }

    private func pipeline(model: URL, llm: LanguageModelConfiguration, stages count: Int) -> PipelineBenchmark {
        PipelineBenchmark(modelDirectory: model, layerCount: llm.layerCount, stages: count, concurrency: concurrency,
                          maxNewTokens: maxNewTokens, stageThreads: stageThreads, weights: weights,
                          activations: activations, kvBytesPerTokenPerLayer: 2 * llm.kvHeadCount * llm.headDim * 4,
                          timeout: TimeInterval(timeout))
    }
}
