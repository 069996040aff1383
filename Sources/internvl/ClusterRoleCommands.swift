import ArgumentParser
import Checkpoint
import Cluster
import Foundation
import InternVL
import Kernels
import Models
import SystemInfo

/// The model, plan and fingerprint a cluster role starts from.
struct ClusterSetup {
    let configuration: ClusterConfiguration
    let model: InternVLConfiguration
    let plan: ClusterPlan
    let fingerprint: String

    init(_ options: ClusterFileOptions) throws {
        configuration = try options.load()
        let modelURL = URL(fileURLWithPath: configuration.model.path, isDirectory: true)
        model = try InternVLConfiguration(directory: modelURL)
        let store = try CheckpointStore(directory: modelURL)
        plan = try ClusterPlan(configuration: configuration, model: model, store: store, file: options.cluster)
        fingerprint = try ModelFingerprint.compute(directory: modelURL)
    }
}

/// Writes a timestamped log line to stderr.
func logLine(_ role: String, _ text: String) {
    let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withTime, .withColonSeparatorInTime])
    FileHandle.standardError.write(Data("[\(stamp)] \(role): \(text)\n".utf8))
}

/// `internvl coordinator -c cluster.yaml`: admits the workers of the file and tracks them.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator of a cluster: admit workers, schedule requests.",
        discussion: """
            Binds coordinator.control of the cluster file and admits each worker listed there whose protocol version,
            role, layer range and model fingerprint match. Prints "cluster ready" on stdout once every worker has
            registered. Stop it with Ctrl-C.
            """)

    @OptionGroup var options: ClusterFileOptions

    @Option(help: "Seconds without a heartbeat after which a worker is marked dead.")
    var heartbeatTimeout: Int = 5

    @Option(help: "Seconds requests wait for a dead worker's replacement (same name) before they fail.")
    var replacementGrace: Int = 60

    func validate() throws {
        guard heartbeatTimeout >= 2 else { throw ValidationError("--heartbeat-timeout must be at least 2 (workers beat once a second)") }
        guard replacementGrace >= 1 else { throw ValidationError("--replacement-grace must be at least 1") }
    }

    func run() async throws {
        let setup = try ClusterSetup(options)
        let control = try CoordinatorControl(configuration: setup.configuration, plan: setup.plan,
                                             fingerprint: setup.fingerprint)
        logLine("coordinator", "listening on \(control.endpoint) for \(setup.configuration.workers.count) workers, model \(setup.fingerprint.prefix(12))")
        let scheduler = try CoordinatorScheduler(configuration: setup.configuration, plan: setup.plan, control: control,
                                                 preparation: CoordinatorScheduler.preparation(for: setup.configuration),
                                                 heartbeatTimeout: .seconds(heartbeatTimeout),
                                                 replacementGrace: .seconds(replacementGrace),
                                                 log: { logLine("coordinator", $0) })
        logLine("coordinator", "serving clients on \(scheduler.endpoint)")
        let server = Task { await control.run() }
        let clients = Task { await scheduler.run() }
        defer { clients.cancel() }
        var announced = false
        for await event in control.events {
            switch event {
            case .registered(let worker):
                logLine("coordinator", "worker \(worker) registered")
                if !announced && control.isComplete {
                    announced = true
                    print("cluster ready: \(setup.configuration.workers.count) workers")
                    fflush(stdout)
                }
            case .refused(let worker, let reason):
                logLine("coordinator", "refused \(worker): \(reason)")
            case .heartbeat:
                break
            }
        }
        await server.value
    }
}

/// `internvl worker -c cluster.yaml --name NAME`: one vision worker or LLM stage.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker of a cluster (vision, or an LLM stage), as named in cluster.yaml.",
        discussion: """
            Registers with the coordinator (coordinator.control) announcing its role, layer range and the model
            fingerprint; a mismatch is refused with the reason and exit code 2. A vision worker loads InternViT and
            the projector and encodes tiles; an LLM stage loads its decoder layers, receives hidden states from the
            previous stage on its port and sends its own to the next stage. It heartbeats until stopped.
            """)

    @OptionGroup var options: ClusterFileOptions

    @Option(help: ArgumentHelp("This worker's name in cluster.yaml.", valueName: "name"))
    var name: String

    @Option(help: "Seconds to wait for the coordinator to answer the registration.")
    var registerTimeout: Int = 60

    func run() async throws {
        let setup = try ClusterSetup(options)
        guard let index = setup.configuration.workers.firstIndex(where: { $0.name == name }) else {
            throw ClusterConfigurationError(
                file: options.cluster, field: "workers",
                "has no worker named '\(name)'; names: \(setup.configuration.workers.map(\.name).joined(separator: ", "))")
        }
        let worker = setup.configuration.workers[index]
        let placement = setup.plan.placements[index]
        let endpoint = worker.port.map { "tcp://\(worker.host ?? ClusterConfiguration.Defaults.host):\($0)" } ?? ""
        let identity = WorkerIdentity(
            name: name, role: placement.role, layers: placement.layers, modelFingerprint: setup.fingerprint,
            activationEndpoint: endpoint, threads: placement.threads, kvCacheBytes: placement.kvBudgetBytes,
            kernelLevel: SystemInfo.kernelLevel.active)
        guard let format = WeightFormat(rawValue: setup.configuration.weightFormat) else {
            throw ClusterConfigurationError(file: options.cluster, field: "model.weights",
                                            "'\(setup.configuration.weightFormat)' is not one of \(ClusterConfiguration.weightFormats.joined(separator: ", "))")
        }
        try ComputeThreads.configure(threads: placement.threads)
        MatmulPath.Precision.setActive(MatmulPath.Precision(name: setup.configuration.precision) ?? .exact)
        let modelURL = URL(fileURLWithPath: setup.configuration.model.path, isDirectory: true)
        let store = try CheckpointStore(directory: modelURL)
        var vision: VisionWorker?
        var stage: LLMStageWorker?
        if placement.role == .vision {
            vision = try VisionWorker(store: store, configuration: setup.model, weightFormat: format)
        } else {
            if placement.layers.lowerBound > 0 && worker.port == nil {
                throw ClusterConfigurationError(file: options.cluster, field: "workers[\(index)].port",
                                                "is missing; llm stage '\(name)' after the first must receive activations on a port")
            }
            stage = try LLMStageWorker(store: store, configuration: setup.model.llm, layers: placement.layers, weightFormat: format,
                                       activationEncoding: setup.configuration.activationEncoding == "int8" ? .int8Row : .f32)
        }

        let link = try WorkerControlLink(identity: identity, coordinatorEndpoint: setup.configuration.coordinator.control)
        defer { link.close() }
        let reply = try await link.register(timeout: .seconds(registerTimeout))
        let next = reply.nextStageEndpoint.isEmpty ? "" : ", next stage \(reply.nextStageEndpoint)"
        logLine(name, "registered as \(placement.role.rawValue)\(placement.role == .llm ? " layers \(placement.layers.lowerBound)..<\(placement.layers.upperBound)" : "")\(next)")
        print("worker \(name) registered")
        fflush(stdout)
        let resident = stage
        stage?.onResidentChange = { sequences, bytes in try? link.heartbeat(activeSequences: sequences, kvBytesUsed: bytes) }
        // On its own thread, so a long forward pass holding the concurrency pool cannot delay it.
        let heartbeat = HeartbeatThread {
            try? link.heartbeat(activeSequences: resident?.activeSequences ?? 0, kvBytesUsed: resident?.kvBytesUsed ?? 0)
        }
        defer { heartbeat.stop() }
        if let vision {
            await vision.serve(link)
        } else if let stage {
            try await stage.serve(link, activationEndpoint: placement.layers.lowerBound > 0 ? endpoint : nil,
                                  nextStageEndpoint: reply.nextStageEndpoint.isEmpty ? nil : reply.nextStageEndpoint)
        }
    }
}

/// Calls `beat` once a second on a dedicated thread until `stop()`.
final class HeartbeatThread: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    init(_ beat: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while !lock.withLock({ stopped }) {
                beat()
                Thread.sleep(forTimeInterval: 1)
            }
        }
        thread.name = "heartbeat"
        thread.start()
    }

    func stop() { lock.withLock { stopped = true } }
}
