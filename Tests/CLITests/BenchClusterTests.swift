import Foundation
import Testing
import TestSupport

/// `internvl bench cluster --json` on the tiny fixture model with small counts: every part reports, every number is
/// positive and finite, and the records describe what was asked for (no timing is asserted).
@Suite(.serialized) struct BenchClusterTests {
    static let concurrency = 3
    static let maxNewTokens = 4

    /// The JSON objects of one small run, by kind.
    static func records() throws -> (status: Int32, byKind: [String: [[String: Any]]], stderr: String) {
        let result = try CLIRunner.run([
            "bench", "cluster", "--json", "-m", Fixtures.tinyModel.path, "--round-trips", "40", "--rows", "32",
            "--messages", "4", "--context", "8", "--steps", "3", "--concurrency", String(concurrency),
            "--max-new-tokens", String(maxNewTokens), "--timeout", "120",
        ], timeout: 300)
        var byKind: [String: [[String: Any]]] = [:]
        for line in result.stdout.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            byKind[object["kind"] as? String ?? "?", default: []].append(object)
        }
        return (result.status, byKind, result.stderr)
    }

    /// `object[key]` as a Double, if it is a number.
    static func number(_ object: [String: Any], _ key: String) -> Double? {
        (object[key] as? NSNumber)?.doubleValue
    }

    /// Whether `object[key]` is a number > 0 and finite.
    static func isPositive(_ object: [String: Any], _ key: String) -> Bool {
        guard let value = number(object, key) else { return false }
        return value.isFinite && value > 0
    }

    @Test func everyPartReportsPositiveFiniteNumbers() throws {
        let run = try Self.records()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("1-stage cluster ready") && run.stderr.contains("2-stage cluster ready"), "\(run.stderr)")
        #expect(Set(run.byKind.keys) == ["hop_latency", "activation_throughput", "stage_compute", "pipeline", "per_token"],
                "\(run.byKind.keys)")

        let hop = try #require(run.byKind["hop_latency"]?.first)
        #expect(hop["hidden"] as? Int == 128, "the tiny model's hidden size")
        #expect(hop["round_trips"] as? Int == 40)
        for key in ["bytes", "median_us", "p99_us"] { #expect(Self.isPositive(hop, key), "hop_latency.\(key): \(hop)") }
        #expect((hop["bytes"] as? Int ?? 0) > 128 * 4, "one f32 row plus the envelope")
        #expect(Self.number(hop, "p99_us") ?? 0 >= Self.number(hop, "median_us") ?? .infinity)

        let throughput = run.byKind["activation_throughput"] ?? []
        #expect(Set(throughput.compactMap { $0["encoding"] as? String }) == ["f32", "int8_row"])
        for record in throughput {
            for key in ["rows", "hidden", "messages", "wire_bytes", "seconds", "wire_gb_per_s", "f32_gb_per_s"] {
                #expect(Self.isPositive(record, key), "activation_throughput.\(key): \(record)")
            }
            let wire = record["wire_bytes"] as? Int ?? 0
            let f32Bytes = 32 * 128 * 4
            if record["encoding"] as? String == "f32" {
                #expect(wire > f32Bytes, "\(record)")
            } else {
                #expect(wire > f32Bytes / 4 && wire < f32Bytes / 2, "int8 rows plus scales: \(record)")
            }
        }

        let compute = run.byKind["stage_compute"] ?? []
        for stages in [1, 2] {
            let ranges = compute.filter { $0["stages"] as? Int == stages }
                .map { ($0["layer_begin"] as? Int ?? -1, $0["layer_end"] as? Int ?? -1) }
            #expect(ranges.count == stages)
            #expect(ranges.first?.0 == 0 && ranges.last?.1 == 2, "\(stages) stages cover layers 0..<2: \(ranges)")
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.1 == $1.0 }, "contiguous: \(ranges)")
        }
        for record in compute { #expect(Self.isPositive(record, "ms_per_token"), "\(record)") }

        let pipelines = run.byKind["pipeline"] ?? []
        #expect(pipelines.compactMap { $0["stages"] as? Int }.sorted() == [1, 2])
        for record in pipelines {
            #expect(record["requests"] as? Int == Self.concurrency && record["concurrency"] as? Int == Self.concurrency)
            let tokens = record["tokens"] as? Int ?? 0
            #expect(tokens >= Self.concurrency && tokens <= Self.concurrency * Self.maxNewTokens, "\(record)")
            for key in ["seconds", "tokens_per_s"] { #expect(Self.isPositive(record, key), "pipeline.\(key): \(record)") }
        }

        let perToken = run.byKind["per_token"] ?? []
        #expect(perToken.compactMap { $0["stages"] as? Int }.sorted() == [1, 2])
        for record in perToken {
            let stages = record["stages"] as? Int ?? 0
            let parts = (record["compute_ms"] as? [NSNumber] ?? []).map(\.doubleValue)
            #expect(parts.count == stages && parts.allSatisfy { $0.isFinite && $0 > 0 }, "\(record)")
            #expect(record["hops"] as? Int == stages + 1)
            for key in ["total_compute_ms", "transfer_ms", "token_ms", "transfer_share"] {
                #expect(Self.isPositive(record, key), "per_token.\(key): \(record)")
            }
            #expect(Self.number(record, "transfer_share") ?? 2 < 1)
        }
    }

    /// Ctrl-C while a cluster is serving stops every child process and removes the temporary directory.
    @Test func interruptStopsEveryClusterProcess() throws {
        let bench = Process()
        bench.executableURL = CLIRunner.executable
        bench.arguments = ["bench", "cluster", "-m", Fixtures.tinyModel.path, "--round-trips", "10", "--messages", "2",
                           "--rows", "8", "--steps", "1", "--context", "2", "--stages", "2", "--concurrency", "2",
                           "--max-new-tokens", "8000", "--timeout", "120"]
        let errors = Pipe()
        bench.standardError = errors
        bench.standardOutput = FileHandle.nullDevice
        let collected = Collected()
        errors.fileHandleForReading.readabilityHandler = { collected.append($0.availableData) }
        try bench.run()
        let work = "internvl-bench-cluster-\(bench.processIdentifier)"
        let deadline = Date().addingTimeInterval(120)
        while !collected.text.contains("sending") && bench.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(collected.text.contains("sending"), "\(collected.text)")
        let children = Self.processes(mentioning: work)
        #expect(children.count == 4, "coordinator, vision worker and two stages: \(children)")

        kill(bench.processIdentifier, SIGINT)
        bench.waitUntilExit()
        #expect(bench.terminationStatus == 130)
        #expect(Self.processes(mentioning: work).isEmpty, "left running: \(Self.processes(mentioning: work))")
        #expect(!FileManager.default.fileExists(atPath: FileManager.default.temporaryDirectory.appendingPathComponent(work).path))
    }

    /// Pids of running processes whose command line contains `text`.
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let state = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  !state.contains(") Z") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    @Test func badOptionsExitTwoNamingTheOption() throws {
        let stages = try CLIRunner.run(["bench", "cluster", "--stages", "0"])
        #expect(stages.status == 2)
        #expect(stages.stderr.contains("--stages"), "\(stages.stderr)")
        let weights = try CLIRunner.run(["bench", "cluster", "--weights", "fp8"])
        #expect(weights.status == 2)
        #expect(weights.stderr.contains("--weights") && weights.stderr.contains("fp8"), "\(weights.stderr)")
    }

    @Test func helpTeachesTheOptions() throws {
        let help = try CLIRunner.run(["bench", "cluster", "--help"])
        #expect(help.status == 0)
        for option in ["--model-dir", "--round-trips", "--messages", "--rows", "--concurrency", "--max-new-tokens",
                       "--stages", "--json", "per token"] {
            #expect(help.stdout.contains(option), "\(option) missing from --help")
        }
    }
}

/// Bytes a reader thread appends and the test reads.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) { lock.withLock { data.append(more) } }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
