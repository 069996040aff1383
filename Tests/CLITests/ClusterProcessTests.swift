import Foundation
import Testing
import TestSupport
import Transport
import Wire

/// A real coordinator and real worker processes over loopback ZeroMQ sockets.
@Suite(.serialized) struct ClusterProcessTests {
    /// A cluster file on free ports for the tiny fixture model.
    func writeClusterFile() throws -> (path: String, control: String) {
        let ports = FreePorts.take(4)
        let yaml = """
            model: { path: \(Fixtures.tinyModel.path) }
            coordinator: { control: "tcp://127.0.0.1:\(ports[0])", clients: "tcp://127.0.0.1:\(ports[1])" }
            workers:
              - { name: vit-a, role: vision }
              - { name: llm-a, role: llm, layers: [0, 1], kv_cache_mb: 64, port: \(ports[2]) }
              - { name: llm-b, role: llm, layers: [1, 2], kv_cache_mb: 64, port: \(ports[3]) }
            """
        let url = try Fixtures.temporaryDirectory().appendingPathComponent("cluster.yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return (url.path, "tcp://127.0.0.1:\(ports[0])")
    }

    @Test func workersRegisterAndMismatchesAreRefused() async throws {
        let (file, control) = try writeClusterFile()
        let coordinator = try BackgroundProcess(["coordinator", "-c", file])
        defer { coordinator.stop() }
        let workers = try ["vit-a", "llm-a", "llm-b"].map { try BackgroundProcess(["worker", "-c", file, "--name", $0]) }
        defer { workers.forEach { $0.stop() } }
        #expect(coordinator.waitFor("cluster ready: 3 workers"), "\(coordinator.text)")
        for worker in workers { #expect(worker.waitFor("registered"), "\(worker.text)") }

        // A worker whose model differs (another config) is refused with the reason, exit 2.
        let other = try Fixtures.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.tinyModel, to: other)
        let config = other.appendingPathComponent("config.json")
        try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "\"rms_norm_eps\": 1e-05", with: "\"rms_norm_eps\": 1e-06")
            .write(to: config, atomically: true, encoding: .utf8)
        let mismatched = try CLIRunner.run(["worker", "-c", file, "--name", "llm-b", "-m", other.path, "--register-timeout", "20"])
        #expect(mismatched.status == 2)
        #expect(mismatched.stderr.contains("model fingerprint"), "\(mismatched.stderr)")
        #expect(coordinator.waitFor("refused llm-b: model fingerprint"))

        // A peer speaking another protocol version gets an error report naming both versions.
        let socket = try ZMQSocket(.dealer)
        try socket.setRoutingID("future-worker")
        try socket.connect(control)
        let loop = SocketLoop(socket: socket)
        defer { loop.stop() }
        var message = WireMessage(.heartbeat(Internvl_V1_Heartbeat()))
        message.envelope.protocolVersion = Internvl_V1_ProtocolVersion(rawValue: 7)!
        loop.send(try message.frames())
        var iterator = loop.incoming.makeAsyncIterator()
        let answer = try WireMessage.decode(try #require(await iterator.next()))
        guard case .error(let report) = answer.envelope.body else {
            Issue.record("expected an error report")
            return
        }
        #expect(report.code == .protocolVersion)
        #expect(report.message.contains("7"))
        #expect(coordinator.isRunning, "the coordinator keeps serving after bad peers")
    }
}
