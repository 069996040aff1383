import Cluster
import Foundation
import Testing
import TestSupport
import Wire

/// `internvl run -c cluster.yaml` computed by real processes: a coordinator, a vision worker and two LLM stages
/// (layers [0, 1) and [1, 2)) of the tiny fixture model over loopback ZeroMQ sockets.
@Suite(.serialized) struct ClusterRunTests {
    /// A running cluster; its processes stop when it is released.
    final class RunningCluster {
        let file: String
        let coordinator: BackgroundProcess
        let workers: [BackgroundProcess]

        let clients: String
        let workerNames: [String]

        /// `extra`: more top-level YAML (e.g. `limits: {...}`); `stages`: 2 (one layer each) or 1 (both layers);
        /// `kvCacheMB` per stage.
        init(extra: String = "", stages: Int = 2, kvCacheMB: Int = 64, coordinatorOptions: [String] = []) throws {
            let ports = FreePorts.take(4)
            let stageLines = stages == 2
                ? """
                  - { name: llm-a, role: llm, layers: [0, 1], kv_cache_mb: \(kvCacheMB), port: \(ports[2]) }
                  - { name: llm-b, role: llm, layers: [1, 2], kv_cache_mb: \(kvCacheMB), port: \(ports[3]) }
                """
                : "  - { name: llm-a, role: llm, layers: [0, 2], kv_cache_mb: \(kvCacheMB), port: \(ports[2]) }"
            let yaml = """
                model: { path: \(Fixtures.tinyModel.path) }
                coordinator: { control: "tcp://127.0.0.1:\(ports[0])", clients: "tcp://127.0.0.1:\(ports[1])" }
                workers:
                  - { name: vit-a, role: vision }
                \(stageLines)
                \(extra)
                """
            clients = "tcp://127.0.0.1:\(ports[1])"
            workerNames = stages == 2 ? ["vit-a", "llm-a", "llm-b"] : ["vit-a", "llm-a"]
            let url = try Fixtures.temporaryDirectory("cluster-run").appendingPathComponent("cluster.yaml")
            try yaml.write(to: url, atomically: true, encoding: .utf8)
            let path = url.path
            file = path
            coordinator = try BackgroundProcess(["coordinator", "-c", path] + coordinatorOptions)
            workers = try workerNames.map { try BackgroundProcess(["worker", "-c", path, "--name", $0]) }
        }

        /// Whether every worker registered.
        func waitUntilReady() -> Bool { coordinator.waitFor("cluster ready: \(workerNames.count) workers") }

        deinit {
            workers.forEach { $0.stop() }
            coordinator.stop()
        }
    }

    func arguments(for golden: RunCLITests.Case) -> [String] {
        var arguments = ["-p", golden.question, "-n", String(golden.maxNewTokens)]
        for image in golden.images { arguments += ["--image", image] }
        if let maxTiles = golden.maxTiles { arguments += ["--max-tiles", String(maxTiles)] }
        return arguments
    }

    /// `run -c FILE --greedy --json ...`: the exit status, the JSON object (if any) and stderr.
    func runOnCluster(_ cluster: RunningCluster, _ arguments: [String]) throws -> (status: Int32, json: [String: Any], stderr: String) {
        let result = try CLIRunner.run(["run", "-c", cluster.file, "--greedy", "--json", "--timeout", "110"] + arguments)
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return (result.status, json, result.stderr)
    }

    func expectMatches(_ golden: RunCLITests.Case, _ output: [String: Any]) {
        #expect(output["prompt_ids"] as? [Int] == golden.promptIDs, "\(golden.name): prompt ids")
        let ids = output["ids"] as? [Int] ?? []
        #expect(Array(ids.prefix(golden.decisiveSteps)) == Array(golden.generatedIDs.prefix(golden.decisiveSteps)),
                "\(golden.name): tokens")
        #expect(!ids.isEmpty && ids.count <= golden.maxNewTokens, "\(golden.name): \(ids.count) tokens")
    }

    @Test func everyChatCaseIsTokenExactThroughTheCluster() throws {
        let cluster = try RunningCluster()
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let cases = try RunCLITests.cases()
        #expect(cases.count >= 5, "text, single image, auto prefix, two images, video")
        for golden in cases {
            let output = try runOnCluster(cluster, arguments(for: golden))
            #expect(output.status == 0, "\(golden.name): \(output.stderr)")
            expectMatches(golden, output.json)
        }
    }

    /// Eight `run -c` clients at once (every case, with and without images, some repeated), through two stages of
    /// one layer each and through one stage holding both layers: each gets its golden greedy tokens.
    @Test(arguments: [2, 1]) func eightConcurrentRequestsAreEachAnsweredCorrectly(stages: Int) throws {
        let cluster = try RunningCluster(stages: stages)
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let cases = try RunCLITests.cases()
        let chosen = (0..<8).map { cases[$0 % cases.count] }
        let lock = NSLock()
        var outputs = [(status: Int32, json: [String: Any], stderr: String)?](repeating: nil, count: chosen.count)
        DispatchQueue.concurrentPerform(iterations: chosen.count) { index in
            let output = try? runOnCluster(cluster, arguments(for: chosen[index]))
            lock.withLock { outputs[index] = output }
        }
        for (golden, output) in zip(chosen, outputs) {
            let output = try #require(output, "\(golden.name): the client did not run")
            #expect(output.status == 0, "\(golden.name): \(output.stderr)")
            expectMatches(golden, output.json)
        }
    }

    @Test func badImageExitsTwoAndTheClusterKeepsServing() throws {
        let cluster = try RunningCluster(extra: "limits: { max_prompt_tokens: 1000 }")
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let corrupt = try Fixtures.temporaryDirectory("cluster-bad").appendingPathComponent("corrupt.png")
        let bytes = try Data(contentsOf: Fixtures.tiny.appendingPathComponent("images/chelsea.png"))
        try bytes.prefix(bytes.count / 3).write(to: corrupt)
        let bad = try runOnCluster(cluster, ["-p", "Describe.", "-n", "2", "--image", corrupt.path])
        #expect(bad.status == 2, "\(bad.stderr)")
        #expect(bad.stderr.contains("corrupt.png"), "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "one line: \(bad.stderr)")

        let tooLong = try runOnCluster(cluster, ["-p", "Describe.", "-n", "5000"])
        #expect(tooLong.status == 2, "\(tooLong.stderr)")
        #expect(tooLong.stderr.contains("max_new_tokens"), "\(tooLong.stderr)")

        // A 7-tile image makes a prompt of 1939 tokens, over the file's max_prompt_tokens.
        let image = Fixtures.tiny.appendingPathComponent("images/chelsea.png").path
        let longPrompt = try runOnCluster(cluster, ["-p", "Describe.", "-n", "2", "--image", image])
        #expect(longPrompt.status == 2, "\(longPrompt.stderr)")
        #expect(longPrompt.stderr.contains("max_prompt_tokens") && longPrompt.stderr.contains("1000"), "\(longPrompt.stderr)")

        let golden = try #require(try RunCLITests.cases().first { $0.images.isEmpty })
        #expect(golden.promptIDs.count < 1000)
        let good = try runOnCluster(cluster, arguments(for: golden))
        #expect(good.status == 0, "\(good.stderr)")
        expectMatches(golden, good.json)
        #expect(cluster.coordinator.isRunning)
    }

    /// The 40-frame video of `RunCLITests.videoFileReproducesTheVideoCase`: frames decoded by the client, tiled and
    /// encoded by the cluster, must reproduce the video case.
    @Test func videoFileReproducesTheVideoCase() throws {
        let golden = try #require(try RunCLITests.cases().first { $0.name == "video_8_frames" })
        let video = try RunCLITests.makeVideoOfTheVideoCase(golden)

        let cluster = try RunningCluster()
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let question = golden.question.components(separatedBy: "\n").last!
        let output = try runOnCluster(cluster, ["--video", video, "--frames", "8", "-p", question, "-n", String(golden.maxNewTokens)])
        #expect(output.status == 0, "\(output.stderr)")
        expectMatches(golden, output.json)
    }

    /// Seeded sampling (temperature, top-k, repetition penalty) on the last stage draws the same tokens as one
    /// process with the same seed and one compute thread (the workers' default), so the logits are bit-identical.
    @Test func seededSamplingMatchesASingleProcessRun() throws {
        let golden = try #require(try RunCLITests.cases().first { !$0.images.isEmpty })
        let image = golden.images[0]
        let sampling = ["-p", "Describe the image.", "--image", image, "-n", "12", "--temp", "0.9", "--top-k", "40",
                        "--repetition-penalty", "1.2", "--seed", "17", "--json"]
        let local = try CLIRunner.run(["run", "-m", Fixtures.tinyModel.path, "--threads", "1"] + sampling)
        #expect(local.status == 0, "\(local.stderr)")
        let localLine = local.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let localJSON = try #require(try JSONSerialization.jsonObject(with: Data(localLine.utf8)) as? [String: Any])

        let cluster = try RunningCluster()
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let remote = try CLIRunner.run(["run", "-c", cluster.file, "--timeout", "110"] + sampling)
        #expect(remote.status == 0, "\(remote.stderr)")
        let remoteLine = remote.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let remoteJSON = try #require(try JSONSerialization.jsonObject(with: Data(remoteLine.utf8)) as? [String: Any])
        let localIDs = try #require(localJSON["ids"] as? [Int])
        #expect(!localIDs.isEmpty)
        #expect(remoteJSON["prompt_ids"] as? [Int] == localJSON["prompt_ids"] as? [Int])
        #expect(remoteJSON["ids"] as? [Int] == localIDs)
        #expect(remoteJSON["text"] as? String == localJSON["text"] as? String)
    }

    /// With 1 MiB of KV cache per stage (2048 positions), a 7-tile prompt (~1930 tokens) plus 200 new tokens can never fit and
    /// is refused at once naming the stage and its budget; requests that fit (two of ~1600 positions, which must
    /// wait for each other) complete with their golden tokens.
    @Test func aRequestThatCanNeverFitIsRefusedWhileOthersComplete() throws {
        let cluster = try RunningCluster(kvCacheMB: 1)
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let cases = try RunCLITests.cases()
        let text = try #require(cases.first { $0.images.isEmpty && $0.name == "text_only" })
        let twoImages = try #require(cases.first { $0.name == "two_images" })
        let image = Fixtures.tiny.appendingPathComponent("images/chelsea.png").path
        let jobs: [[String]] = [["-p", "Describe.", "-n", "200", "--image", image], arguments(for: twoImages),
                                arguments(for: text), arguments(for: twoImages), arguments(for: text)]
        let lock = NSLock()
        var outputs = [(status: Int32, json: [String: Any], stderr: String)?](repeating: nil, count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: jobs.count) { index in
            let output = try? runOnCluster(cluster, jobs[index])
            lock.withLock { outputs[index] = output }
        }
        let refused = try #require(outputs[0])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("positions needs 1.0 MB of KV cache on llm-a, kv_cache_mb is 1"), "\(refused.stderr)")
        for (golden, output) in zip([twoImages, text, twoImages, text], outputs.dropFirst()) {
            let output = try #require(output, "\(golden.name): the client did not run")
            #expect(output.status == 0, "\(golden.name): \(output.stderr)")
            expectMatches(golden, output.json)
        }
    }

    /// `run -c` without `--json` prints the text as the tokens arrive, exactly what a local run prints; the deltas
    /// a `ClusterClient` receives add up to the result's ids.
    @Test func streamedTextMatchesALocalRun() throws {
        let golden = try #require(try RunCLITests.cases().first { $0.name == "single_image" })
        let local = try CLIRunner.run(["run", "-m", Fixtures.tinyModel.path, "--greedy"] + arguments(for: golden))
        #expect(local.status == 0, "\(local.stderr)")
        let cluster = try RunningCluster()
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let remote = try CLIRunner.run(["run", "-c", cluster.file, "--greedy", "--timeout", "110"] + arguments(for: golden))
        #expect(remote.status == 0, "\(remote.stderr)")
        #expect(!local.stdout.isEmpty && remote.stdout == local.stdout)

        var request = Internvl_V1_GenerateRequest()
        request.question = golden.question
        request.maxNewTokens = UInt32(golden.maxNewTokens)
        request.maxTiles = UInt32(golden.maxTiles ?? 0)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: golden.images[0])))
        var deltaIDs: [Int] = []
        var deltaText = ""
        let result = try ClusterClient.generate(request, images: [(name: "image", bytes: bytes)], endpoint: cluster.clients,
                                                timeout: .seconds(110)) { delta in
            deltaIDs += delta.tokenIds.map(Int.init)
            deltaText += delta.text
        }
        #expect(deltaIDs == result.ids.map(Int.init))
        #expect(deltaIDs.prefix(golden.decisiveSteps) == golden.generatedIDs.prefix(golden.decisiveSteps))
        #expect(deltaText + "\n" == local.stdout)
    }

    /// A cancelled request (by `ClusterClient`, and by `run -c` on SIGTERM) is answered "cancelled" after its first
    /// tokens, its KV caches are freed on every stage
    /// (their heartbeats report no resident sequence), and the cluster serves the next request.
    @Test func cancelStopsTheSequenceAndTheClusterServesTheNext() throws {
        let cluster = try RunningCluster()
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        var request = Internvl_V1_GenerateRequest()
        request.question = "Tell a very long story."
        request.maxNewTokens = 1000
        let cancellation = ClusterClient.Cancellation()
        var deltas = 0
        var residentWhileRunning: [Int] = []
        #expect {
            _ = try ClusterClient.generate(request, images: [], endpoint: cluster.clients, timeout: .seconds(110),
                                           cancellation: cancellation) { _ in
                deltas += 1
                guard deltas == 1 else { return }
                // While the sequence runs, the stages' heartbeats report it resident.
                let deadline = Date().addingTimeInterval(20)
                while Date() < deadline && (residentWhileRunning.isEmpty || residentWhileRunning.contains(0)) {
                    let status = try? ClusterClient.status(endpoint: cluster.clients, timeout: .seconds(10))
                    residentWhileRunning = status?.workers.filter { $0.name.hasPrefix("llm") }.map { Int($0.activeSequences) } ?? []
                    Thread.sleep(forTimeInterval: 0.1)
                }
                cancellation.cancel()
            }
        } throws: { error in
            (error as? ClusterClient.RequestError)?.message == "cancelled"
        }
        #expect(residentWhileRunning == [1, 1])
        #expect(deltas >= 1 && deltas < 1000)

        // `run -c` sends Cancel on SIGTERM once the text streams.
        let client = try BackgroundProcess(["run", "-c", cluster.file, "-p", "Tell a very long story.", "-n", "1000"])
        let streaming = Date().addingTimeInterval(60)
        while Date() < streaming && client.text.isEmpty && client.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        #expect(client.isRunning && !client.text.isEmpty, "\(client.text)")
        client.stop()
        #expect(client.waitForExit(timeout: 10) == 1)
        #expect(client.text.contains("cancelled"), "\(client.text)")

        let golden = try #require(try RunCLITests.cases().first { $0.name == "text_only" })
        let next = try runOnCluster(cluster, arguments(for: golden))
        #expect(next.status == 0, "\(next.stderr)")
        expectMatches(golden, next.json)

        // The stages' heartbeats (once a second) must come to report no resident sequence.
        let deadline = Date().addingTimeInterval(20)
        var status = try ClusterClient.status(endpoint: cluster.clients, timeout: .seconds(10))
        while Date() < deadline && !(status.workers.allSatisfy { $0.activeSequences == 0 } && status.runningSequences == 0) {
            Thread.sleep(forTimeInterval: 0.2)
            status = try ClusterClient.status(endpoint: cluster.clients, timeout: .seconds(10))
        }
        #expect(status.workers.map(\.name) == ["vit-a", "llm-a", "llm-b"])
        #expect(status.workers.allSatisfy { $0.registered && $0.alive }, "\(status)")
        #expect(status.workers.allSatisfy { $0.activeSequences == 0 }, "\(status)")
        #expect(status.runningSequences == 0 && status.batchesInFlight == 0, "\(status)")
    }

    /// A stage that dies with no replacement: after the grace period the request fails naming the worker, and
    /// the coordinator keeps running.
    @Test func aDeadStageWithoutReplacementFailsTheRequestAfterTheGrace() throws {
        let cluster = try RunningCluster(coordinatorOptions: ["--heartbeat-timeout", "3", "--replacement-grace", "2"])
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        var request = Internvl_V1_GenerateRequest()
        request.question = "Tell a very long story."
        request.maxNewTokens = 1000
        let victims = ClusterUpTests().pids(matching: ["worker", cluster.file, "--name llm-b"])
        try #require(victims.count == 1)
        var stopped = false
        #expect {
            _ = try ClusterClient.generate(request, images: [], endpoint: cluster.clients, timeout: .seconds(110)) { _ in
                if !stopped {
                    stopped = true
                    for pid in victims { kill(pid, SIGKILL) }
                }
            }
        } throws: { error in
            let message = (error as? ClusterClient.RequestError)?.message ?? "\(error)"
            return message.contains("worker llm-b stopped sending heartbeats and no replacement registered within")
        }
        #expect(stopped)
        #expect(cluster.coordinator.text.contains("worker llm-b sent no heartbeat"), "\(cluster.coordinator.text)")
        #expect(cluster.coordinator.isRunning)
    }

    /// `activations: int8` in the cluster file: the stages exchange int8 hidden states and requests complete.
    @Test func int8ActivationsCompleteARequest() throws {
        let cluster = try RunningCluster(extra: "activations: int8")
        try #require(cluster.waitUntilReady(), "\(cluster.coordinator.text)")
        let golden = try #require(try RunCLITests.cases().first { $0.name == "single_image" })
        let output = try runOnCluster(cluster, arguments(for: golden))
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.json["prompt_ids"] as? [Int] == golden.promptIDs)
        #expect((output.json["ids"] as? [Int])?.count == golden.maxNewTokens)
    }

    @Test func unreachableCoordinatorExitsOne() throws {
        let ports = FreePorts.take(2)
        let url = try Fixtures.temporaryDirectory("cluster-none").appendingPathComponent("cluster.yaml")
        try """
            model: { path: \(Fixtures.tinyModel.path) }
            coordinator: { control: "tcp://127.0.0.1:\(ports[0])", clients: "tcp://127.0.0.1:\(ports[1])" }
            workers:
              - { name: vit-a, role: vision }
              - { name: llm-a, role: llm }
            """.write(to: url, atomically: true, encoding: .utf8)
        let result = try CLIRunner.run(["run", "-c", url.path, "-p", "Hello", "-n", "2", "--timeout", "1"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("coordinator.clients"), "\(result.stderr)")
    }
}
