import Cluster
import Foundation
import Testing
import TestSupport
import Wire

/// `internvl cluster up`: real child processes, a real crash, a real restart.
@Suite(.serialized) struct ClusterUpTests {
    /// PIDs of processes whose command line contains every one of `words`.
    func pids(matching words: [String]) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return words.allSatisfy(command.contains) ? pid : nil
        }
    }

    /// A cluster file for the tiny model on free loopback ports: coordinator, vit-a, llm-a and llm-b.
    func writeClusterFile() throws -> (file: URL, ports: [Int]) {
        let ports = FreePorts.take(4)
        let file = try Fixtures.temporaryDirectory().appendingPathComponent("cluster.yaml")
        try """
            model: { path: \(Fixtures.tinyModel.path) }
            coordinator: { control: "tcp://127.0.0.1:\(ports[0])", clients: "tcp://127.0.0.1:\(ports[1])" }
            workers:
              - { name: vit-a, role: vision }
              - { name: llm-a, role: llm, kv_cache_mb: 64, port: \(ports[2]) }
              - { name: llm-b, role: llm, kv_cache_mb: 64, port: \(ports[3]) }
            """.write(to: file, atomically: true, encoding: .utf8)
        return (file, ports)
    }

    @Test func startsSupervisesAndStopsEveryLocalProcess() throws {
        let (file, _) = try writeClusterFile()
        let up = try BackgroundProcess(["cluster", "up", "-c", file.path])
        defer { up.stop() }
        #expect(up.waitFor("cluster up: 4 local processes"), "\(up.text)")

        // Crash one worker: the supervisor restarts it and it registers again.
        let victims = pids(matching: ["worker", file.path, "--name llm-a"])
        #expect(victims.count == 1)
        for pid in victims { kill(pid, SIGKILL) }
        #expect(up.waitFor("llm-a exited with status 9; restarting"), "\(up.text)")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && up.text.components(separatedBy: "worker llm-a registered").count < 3 {
            Thread.sleep(forTimeInterval: 0.1)
        }
        // Each registration appears twice: the coordinator's log line and the worker's own.
        #expect(up.text.components(separatedBy: "worker llm-a registered").count >= 3, "\(up.text)")

        // SIGTERM stops everything.
        up.stop()
        #expect(up.waitForExit(timeout: 15) != nil)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(pids(matching: [file.path]).isEmpty, "no process of the cluster is left")
    }
    /// `kill -9` of the last LLM stage in the middle of a request: `cluster up` restarts it, the coordinator
    /// prefills the sequence again from its prompt and the tokens so far, and the answer keeps the golden tokens.
    @Test func aKilledStageMidRequestIsReplacedAndTheRequestKeepsItsGoldenTokens() throws {
        let golden = try #require(try RunCLITests.cases().first { $0.name == "single_image" })
        let (file, ports) = try writeClusterFile()
        let up = try BackgroundProcess(["cluster", "up", "-c", file.path])
        defer { up.stop() }
        #expect(up.waitFor("cluster up: 4 local processes"), "\(up.text)")
        let victims = pids(matching: ["worker", file.path, "--name llm-b"])
        try #require(victims.count == 1)

        var request = Internvl_V1_GenerateRequest()
        request.question = golden.question
        request.maxNewTokens = UInt32(golden.maxNewTokens)
        request.maxTiles = UInt32(golden.maxTiles ?? 0)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: golden.images[0])))
        var killedAfter = 0
        let result = try ClusterClient.generate(request, images: [(name: "image", bytes: bytes)],
                                                endpoint: "tcp://127.0.0.1:\(ports[1])", timeout: .seconds(110)) { delta in
            if killedAfter == 0 {
                killedAfter = delta.tokenIds.count
                for pid in victims { kill(pid, SIGKILL) }
            }
        }
        #expect(killedAfter == 1)
        #expect(up.text.contains("llm-b exited with status 9"), "\(up.text)")
        // The sequence was running when the replacement registered: it was prefilled again, not lost.
        #expect(up.text.contains("worker llm-b registered again: 1 sequences are prefilled again"), "\(up.text)")
        let ids = result.ids.map(Int.init)
        #expect(ids.count == golden.maxNewTokens)
        #expect(Array(ids.prefix(golden.decisiveSteps)) == Array(golden.generatedIDs.prefix(golden.decisiveSteps)))
    }
}
