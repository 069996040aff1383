import Foundation
import Testing
import TestSupport

/// The cluster of `ClusterRunTests` with every role on its own simulated host: the coordinator, the vision worker,
/// the two LLM stages and the client each run in their own network namespace, joined through a bridge on
/// 10.213.7.0/24, so every message crosses a veth link and the bridge instead of loopback.
///
/// Needs root and `ip` (iproute2); elsewhere the test prints why and returns.
@Suite(.serialized) struct ClusterNetnsTests {
    static let hostNames = ["coordinator", "vision", "llm-a", "llm-b", "client"]

    /// A cluster file naming only the lab's addresses (each namespace is its own host, so fixed ports are free).
    static func clusterFile(_ lab: NetworkNamespaceLab) -> String {
        let coordinator = lab.host("coordinator").address
        return """
            model: { path: \(Fixtures.tinyModel.path) }
            coordinator: { control: "tcp://\(coordinator):5550", clients: "tcp://\(coordinator):5551" }
            workers:
              - { name: vit-a, role: vision, host: \(lab.host("vision").address) }
              - { name: llm-a, role: llm, layers: [0, 1], kv_cache_mb: 64, host: \(lab.host("llm-a").address), port: 5560 }
              - { name: llm-b, role: llm, layers: [1, 2], kv_cache_mb: 64, host: \(lab.host("llm-b").address), port: 5561 }
            """
    }

    /// The lab, the cluster file and the running roles of one test; released in reverse (processes, then namespaces).
    final class NamespacedCluster: @unchecked Sendable {
        let lab: NetworkNamespaceLab
        let file: String
        let coordinator: BackgroundProcess
        let workers: [BackgroundProcess]

        init() throws {
            let lab = try NetworkNamespaceLab(hostNames: ClusterNetnsTests.hostNames)
            self.lab = lab
            let yaml = ClusterNetnsTests.clusterFile(lab)
            #expect(!yaml.contains("127.0.0.1") && !yaml.contains("localhost"), "the cluster file must not use loopback")
            let url = try Fixtures.temporaryDirectory("cluster-netns").appendingPathComponent("cluster.yaml")
            try yaml.write(to: url, atomically: true, encoding: .utf8)
            file = url.path
            coordinator = try NamespacedProcess.start(namespace: lab.host("coordinator").namespace, ["coordinator", "-c", url.path])
            workers = try [("vit-a", "vision"), ("llm-a", "llm-a"), ("llm-b", "llm-b")].map { name, host in
                try NamespacedProcess.start(namespace: lab.host(host).namespace, ["worker", "-c", url.path, "--name", name])
            }
        }

        /// Whether every worker registered; on failure the message holds every role's output.
        func waitUntilReady() -> Bool { coordinator.waitFor("cluster ready: 3 workers", timeout: 90) }

        var logs: String { "coordinator:\n\(coordinator.text)\nworkers:\n\(workers.map(\.text).joined(separator: "\n"))" }

        /// `run -c FILE --greedy --json` of a golden case from the client namespace.
        func run(_ golden: RunCLITests.Case) throws -> CLIRunner.Result {
            var arguments = ["run", "-c", file, "--greedy", "--json", "--timeout", "110",
                             "-p", golden.question, "-n", String(golden.maxNewTokens)]
            for image in golden.images { arguments += ["--image", image] }
            if let maxTiles = golden.maxTiles { arguments += ["--max-tiles", String(maxTiles)] }
            return try NamespacedProcess.run(namespace: lab.host("client").namespace, arguments)
        }

        deinit {
            workers.forEach { $0.stop() }
            coordinator.stop()
            lab.destroy()
        }
    }

    /// The golden tokens of `golden` in a `run --json` result.
    static func expectMatches(_ golden: RunCLITests.Case, _ result: CLIRunner.Result) {
        #expect(result.status == 0, "\(golden.name): \(result.stderr)")
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let output = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(output["prompt_ids"] as? [Int] == golden.promptIDs, "\(golden.name): prompt ids")
        let ids = output["ids"] as? [Int] ?? []
        #expect(Array(ids.prefix(golden.decisiveSteps)) == Array(golden.generatedIDs.prefix(golden.decisiveSteps)),
                "\(golden.name): tokens")
        #expect(!ids.isEmpty && ids.count <= golden.maxNewTokens, "\(golden.name): \(ids.count) tokens")
    }

    @Test func everyChatCaseIsTokenExactAcrossNamespaces() throws {
        if let reason = NetworkNamespaceLab.unavailableReason() {
            print("ClusterNetnsTests: not run: \(reason)")
            return
        }
        let cluster = try NamespacedCluster()
        let lab = cluster.lab
        // Each namespace has only its own address: the client cannot reach the coordinator over a loopback.
        let clientAddresses = try NetworkNamespaceLab.ip(["-n", lab.host("client").namespace, "-4", "-o", "addr", "show", "dev", "eth0"])
        #expect(clientAddresses.contains(lab.host("client").address + "/24"), "\(clientAddresses)")
        #expect(!clientAddresses.contains(lab.host("coordinator").address))

        try #require(cluster.waitUntilReady(), "\(cluster.logs)")
        #expect(cluster.coordinator.text.contains("tcp://\(lab.host("coordinator").address):5550"), "\(cluster.logs)")
        // The first stage prints its next stage once its registration is answered (possibly after "cluster ready").
        #expect(cluster.workers[1].waitFor("next stage tcp://\(lab.host("llm-b").address):5561", timeout: 30), "\(cluster.logs)")

        let cases = try RunCLITests.cases()
        #expect(cases.count >= 5, "text, single image, auto prefix, two images, video")
        for golden in cases { Self.expectMatches(golden, try cluster.run(golden)) }
        #expect(cluster.coordinator.isRunning && cluster.workers.allSatisfy(\.isRunning))
    }

    /// Eight clients at once, each in the client namespace on its own thread, all get their golden tokens.
    @Test func eightConcurrentRequestsAcrossNamespaces() throws {
        if let reason = NetworkNamespaceLab.unavailableReason() {
            print("ClusterNetnsTests: not run: \(reason)")
            return
        }
        let cluster = try NamespacedCluster()
        try #require(cluster.waitUntilReady(), "\(cluster.logs)")
        let cases = try RunCLITests.cases()
        let chosen = (0..<8).map { cases[$0 % cases.count] }
        let results = ResultSlots(count: chosen.count)
        let finished = DispatchGroup()
        for (index, golden) in chosen.enumerated() {
            finished.enter()
            Thread {
                results.set(index, Result { try cluster.run(golden) })
                finished.leave()
            }.start()
        }
        finished.wait()
        for (golden, result) in zip(chosen, results.all) {
            let output = try #require(try result?.get(), "\(golden.name): the client did not run")
            Self.expectMatches(golden, output)
        }
    }

    /// The lab removes every namespace it made, which takes their veths and the bridge with them.
    @Test func theLabLeavesNoNamespaceBehind() throws {
        if let reason = NetworkNamespaceLab.unavailableReason() {
            print("ClusterNetnsTests: not run: \(reason)")
            return
        }
        var lab: NetworkNamespaceLab? = try NetworkNamespaceLab(hostNames: ["a", "b"])
        let names = [lab!.hub] + lab!.hosts.map(\.namespace)
        let before = try NetworkNamespaceLab.ip(["netns", "list"])
        for name in names { #expect(before.contains(name), "\(name) missing from: \(before)") }
        lab = nil
        let after = try NetworkNamespaceLab.ip(["netns", "list"])
        for name in names { #expect(!after.contains(name), "\(name) left behind: \(after)") }
    }
}

/// One result slot per client thread.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<CLIRunner.Result, Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<CLIRunner.Result, Error>) { lock.withLock { slots[index] = result } }

    var all: [Result<CLIRunner.Result, Error>?] { lock.withLock { slots } }
}
