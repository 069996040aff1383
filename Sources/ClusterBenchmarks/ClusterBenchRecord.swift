import Benchmarks
import Foundation

/// One line of `internvl bench cluster` output, as text or as one JSON object.
public enum ClusterBenchRecord: Sendable, Equatable {
    /// One decode step's hop: a ForwardBatch envelope plus one hidden-state row of `hidden` floats (`bytes` on the
    /// wire) over PUSH/PULL tcp loopback; median and 99th percentile of round trip / 2, in seconds.
    case hopLatency(hidden: Int, bytes: Int, roundTrips: Int, median: Double, p99: Double)
    /// `messages` ForwardBatch messages of `rows` x `hidden` activations in `encoding` (f32 or int8_row) sent one
    /// way with many in flight, encoded by the sender and decoded by the receiver; `wireBytes` per message.
    case activationThroughput(encoding: String, rows: Int, hidden: Int, messages: Int, wireBytes: Int, seconds: Double)
    /// Time of one decode step (one token of one sequence, `context` tokens already cached) of one stage's layers,
    /// in process: embeddings on the first stage, final norm and head on the last.
    case stageCompute(stages: Int, stage: Int, layers: Range<Int>, context: Int, seconds: Double)
    /// Generated tokens per second of a running cluster with `stages` LLM stages under `concurrency` simultaneous
    /// text-only requests of `maxNewTokens` each.
    case pipeline(stages: Int, concurrency: Int, maxNewTokens: Int, requests: Int, tokens: Int, seconds: Double)
    /// Where one token's time goes with `stages` stages: compute of every stage in turn plus `hops` transfers
    /// (coordinator -> first stage -> ... -> last stage -> coordinator) at the measured hop latency.
    case perToken(stages: Int, computeSeconds: [Double], hops: Int, transferSeconds: Double)

    /// A human-readable line.
    public var text: String {
        switch self {
        case .hopLatency(let hidden, let bytes, let roundTrips, let median, let p99):
            return "hop latency       H=\(hidden) (\(bytes) B per message, \(roundTrips) round trips): "
                + "median \(format(median * 1e6, 1)) us, p99 \(format(p99 * 1e6, 1)) us"
        case .activationThroughput(let encoding, let rows, let hidden, let messages, let wireBytes, let seconds):
            let f32Bytes = Double(rows * hidden * 4 * messages)
            return "throughput        \(encoding) \(rows)x\(hidden) x \(messages) messages (\(format(Double(wireBytes) / 1e6, 2)) MB each): "
                + "\(format(Double(wireBytes * messages) / seconds / 1e9, 2)) GB/s on the wire, "
                + "\(format(f32Bytes / seconds / 1e9, 2)) GB/s of f32 activations"
        case .stageCompute(let stages, let stage, let layers, let context, let seconds):
            return "stage compute     \(stages) stage(s), stage \(stage + 1) layers \(layers.lowerBound)..<\(layers.upperBound): "
                + "\(format(seconds * 1e3, 3)) ms per decode step (context \(context))"
        case .pipeline(let stages, let concurrency, let maxNewTokens, let requests, let tokens, let seconds):
            return "pipeline          \(stages) stage(s), \(concurrency) requests at once x \(maxNewTokens) new tokens: "
                + "\(tokens) tokens of \(requests) requests in \(format(seconds, 2)) s = \(format(Double(tokens) / seconds, 1)) tokens/s"
        case .perToken(let stages, let computeSeconds, let hops, let transferSeconds):
            let compute = computeSeconds.reduce(0, +)
            let total = compute + transferSeconds
            let parts = computeSeconds.enumerated().map { "S\($0.offset + 1) \(format($0.element * 1e3, 3))" }.joined(separator: " + ")
            return "per token         \(stages) stage(s): G \(format(total * 1e3, 3)) ms  I \(format(compute * 1e3, 3)) ms (\(parts))  "
                + "T \(format(transferSeconds * 1e3, 3)) ms (\(hops) hops)  transfer share \(format(100 * transferSeconds / total, 1)) %"
        }
    }

    /// The same content as one JSON object on one line (keys in a fixed order; times in ms or us as named).
    public var json: String {
        var fields: [(String, String)]
        switch self {
        case .hopLatency(let hidden, let bytes, let roundTrips, let median, let p99):
            fields = [("kind", jsonQuoted("hop_latency")), ("hidden", "\(hidden)"), ("bytes", "\(bytes)"),
                      ("round_trips", "\(roundTrips)"), ("median_us", format(median * 1e6, 3)), ("p99_us", format(p99 * 1e6, 3))]
        case .activationThroughput(let encoding, let rows, let hidden, let messages, let wireBytes, let seconds):
            fields = [("kind", jsonQuoted("activation_throughput")), ("encoding", jsonQuoted(encoding)), ("rows", "\(rows)"),
                      ("hidden", "\(hidden)"), ("messages", "\(messages)"), ("wire_bytes", "\(wireBytes)"),
                      ("seconds", format(seconds, 6)),
                      ("wire_gb_per_s", format(Double(wireBytes * messages) / seconds / 1e9, 4)),
                      ("f32_gb_per_s", format(Double(rows * hidden * 4 * messages) / seconds / 1e9, 4))]
        case .stageCompute(let stages, let stage, let layers, let context, let seconds):
            fields = [("kind", jsonQuoted("stage_compute")), ("stages", "\(stages)"), ("stage", "\(stage)"),
                      ("layer_begin", "\(layers.lowerBound)"), ("layer_end", "\(layers.upperBound)"),
                      ("context", "\(context)"), ("ms_per_token", format(seconds * 1e3, 4))]
        case .pipeline(let stages, let concurrency, let maxNewTokens, let requests, let tokens, let seconds):
            fields = [("kind", jsonQuoted("pipeline")), ("stages", "\(stages)"), ("concurrency", "\(concurrency)"),
                      ("max_new_tokens", "\(maxNewTokens)"), ("requests", "\(requests)"), ("tokens", "\(tokens)"),
                      ("seconds", format(seconds, 4)), ("tokens_per_s", format(Double(tokens) / seconds, 3))]
        case .perToken(let stages, let computeSeconds, let hops, let transferSeconds):
            let compute = computeSeconds.reduce(0, +)
            fields = [("kind", jsonQuoted("per_token")), ("stages", "\(stages)"),
                      ("compute_ms", "[" + computeSeconds.map { format($0 * 1e3, 4) }.joined(separator: ",") + "]"),
                      ("hops", "\(hops)"), ("total_compute_ms", format(compute * 1e3, 4)),
                      ("transfer_ms", format(transferSeconds * 1e3, 4)),
                      ("token_ms", format((compute + transferSeconds) * 1e3, 4)),
                      ("transfer_share", format(transferSeconds / (compute + transferSeconds), 4))]
        }
        return "{" + fields.map { "\(jsonQuoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// `value` with `digits` decimals ("0" for a value that is not finite).
private func format(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "0" }
    return String(format: "%.\(digits)f", value)
}
