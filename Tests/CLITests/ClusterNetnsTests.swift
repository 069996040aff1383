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

    @Test func everyChatCaseIsTokenExactAcrossNamespaces() throws {
        if let reason = NetworkNamespaceLab.unavailableReason() {
            print("ClusterNetnsTests: not run: \(reason)")
            return
        }
        let lab = try NetworkNamespaceLab(hostNames: Self.hostNames)
        defer { lab.destroy() }

        let yaml = Self.clusterFile(lab)
        #expect(!yaml.contains("127.0.0.1") && !yaml.contains("localhost"), "the cluster file must not use loopback")
        let file = try Fixtures.temporaryDirectory("cluster-netns").appendingPathComponent("cluster.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)

        // Each namespace sees only its own address: the client cannot reach a coordinator on its own loopback.
        let clientAddresses = try NetworkNamespaceLab.ip(["-n", lab.host("client").namespace, "-4", "-o", "addr", "show", "dev", "eth0"])
        #expect(clientAddresses.contains(lab.host("client").address + "/24"), "\(clientAddresses)")
        #expect(!clientAddresses.contains(lab.host("coordinator").address))

        let coordinator = try NamespacedProcess(namespace: lab.host("coordinator").namespace, ["coordinator", "-c", file.path])
        let workers = try [("vit-a", "vision"), ("llm-a", "llm-a"), ("llm-b", "llm-b")].map { name, host in
            try NamespacedProcess(namespace: lab.host(host).namespace, ["worker", "-c", file.path, "--name", name])
        }
        defer {
            workers.forEach { $0.stop() }
            coordinator.stop()
        }
        try #require(coordinator.waitFor("cluster ready: 3 workers", timeout: 90),
                     "coordinator:\n\(coordinator.text)\nworkers:\n\(workers.map(\.text).joined(separator: "\n"))")
        #expect(coordinator.text.contains("tcp://\(lab.host("coordinator").address):5550"), "\(coordinator.text)")
        #expect(workers[1].text.contains("next stage tcp://\(lab.host("llm-b").address):5561"), "\(workers[1].text)")

        let cases = try RunCLITests.cases()
        #expect(cases.count >= 5, "text, single image, auto prefix, two images, video")
        for golden in cases {
            var arguments = ["run", "-c", file.path, "--greedy", "--json", "--timeout", "110",
                             "-p", golden.question, "-n", String(golden.maxNewTokens)]
            for image in golden.images { arguments += ["--image", image] }
            if let maxTiles = golden.maxTiles { arguments += ["--max-tiles", String(maxTiles)] }
            let result = try NamespacedProcess.run(namespace: lab.host("client").namespace, arguments)
            #expect(result.status == 0, "\(golden.name): \(result.stderr)")
            let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let output = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
            #expect(output["prompt_ids"] as? [Int] == golden.promptIDs, "\(golden.name): prompt ids")
            let ids = output["ids"] as? [Int] ?? []
            #expect(Array(ids.prefix(golden.decisiveSteps)) == Array(golden.generatedIDs.prefix(golden.decisiveSteps)),
                    "\(golden.name): tokens")
            #expect(!ids.isEmpty && ids.count <= golden.maxNewTokens, "\(golden.name): \(ids.count) tokens")
        }
        #expect(coordinator.isRunning && workers.allSatisfy(\.isRunning))
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
