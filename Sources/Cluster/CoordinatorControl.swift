import CZeroMQ
import Foundation
import Transport
import Wire

/// The coordinator's control endpoint: admits workers that match the cluster plan and tracks their heartbeats.
///
/// A registration is refused, with a reason the worker prints, when the protocol version differs, the worker name is
/// not in the cluster file, the role or layer range differs from the plan, or the model fingerprint differs from the
/// coordinator's own.
public final class CoordinatorControl: @unchecked Sendable {
    /// Something that happened on the control socket.
    public enum Event: Sendable, Equatable {
        case registered(worker: String)
        case refused(worker: String, reason: String)
        case heartbeat(worker: String)
    }

    /// Events, in order (registrations, refusals, heartbeats).
    public let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    /// Work results from registered workers (vision results, sampled tokens, error reports), in arrival order.
    public let workerMessages: AsyncStream<(worker: String, message: WireMessage)>
    private let workerMessageSink: AsyncStream<(worker: String, message: WireMessage)>.Continuation
    public let endpoint: String
    private let loop: SocketLoop
    private let configuration: ClusterConfiguration
    private let plan: ClusterPlan
    private let fingerprint: String
    private let lock = NSLock()
    private var registeredNames: Set<String> = []
    private var lastSeen: [String: ContinuousClock.Instant] = [:]
    private var lastHeartbeat: [String: Internvl_V1_Heartbeat] = [:]
    private var registrations: [String: Int] = [:]

    /// What the control socket knows about one worker.
    public struct WorkerHealth: Sendable, Equatable {
        /// Accepted registrations so far: a restarted worker (same name, new process) increments it.
        public var registrations: Int
        /// When its last registration or heartbeat arrived.
        public var lastSeen: ContinuousClock.Instant
        /// From its last heartbeat (0 before the first).
        public var activeSequences: Int
        public var kvCacheBytesUsed: Int
    }

    /// Binds the control endpoint of `configuration` (or `endpoint` if given, e.g. `tcp://127.0.0.1:*` in tests).
    public init(configuration: ClusterConfiguration, plan: ClusterPlan, fingerprint: String,
                endpoint: String? = nil) throws {
        self.configuration = configuration
        self.plan = plan
        self.fingerprint = fingerprint
        let socket = try ZMQSocket(.router)
        try socket.setHeartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 10_000)
        // A restarted worker reconnects under the same name: its new connection takes over the old one.
        try socket.set(ZMQ_ROUTER_HANDOVER, 1)
        let address = endpoint ?? configuration.coordinator.control
        do { try socket.bind(address) } catch {
            throw ClusterRuntimeError(.configuration, "cannot bind coordinator.control \(address): \(error)")
        }
        self.endpoint = try socket.lastEndpoint()
        loop = SocketLoop(socket: socket, name: "coordinator-control")
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
        (workerMessages, workerMessageSink) = AsyncStream.makeStream(of: (worker: String, message: WireMessage).self)
    }

    /// Queues `message` for the registered worker `worker` (its DEALER routing id is its name).
    public func send(_ message: WireMessage, to worker: String) throws {
        loop.send([ZMQFrame(Array(worker.utf8))] + (try message.frames()))
    }

    /// Workers registered so far.
    public var registeredWorkers: Set<String> {
        lock.withLock { registeredNames }
    }

    /// Registration count, last contact and last heartbeat of every registered worker.
    public var health: [String: WorkerHealth] {
        lock.withLock {
            var result: [String: WorkerHealth] = [:]
            for name in registeredNames {
                let beat = lastHeartbeat[name]
                result[name] = WorkerHealth(registrations: registrations[name] ?? 0, lastSeen: lastSeen[name] ?? .now,
                                            activeSequences: Int(beat?.activeSequences ?? 0),
                                            kvCacheBytesUsed: Int(beat?.kvCacheBytesUsed ?? 0))
            }
            return result
        }
    }

    /// Whether every worker of the cluster file has registered.
    public var isComplete: Bool { registeredWorkers.count == configuration.workers.count }

    /// Serves the control socket until `stop()`.
    public func run() async {
        for await frames in loop.incoming {
            guard frames.count >= 2 else { continue }
            let route = frames[0]
            let peer = String(decoding: route.bytes, as: UTF8.self)
            let message: WireMessage
            do {
                message = try WireMessage.decode(frames, skip: 1)
            } catch let error as WireError {
                reply(to: route, .error(Self.report(error)))
                eventSink.yield(.refused(worker: peer, reason: error.description))
                continue
            } catch {
                continue
            }
            switch message.envelope.body {
            case .register(let register):
                if let reason = refusal(of: register) {
                    var answer = Internvl_V1_RegisterReply()
                    answer.accepted = false
                    answer.reason = reason
                    reply(to: route, .registerReply(answer))
                    eventSink.yield(.refused(worker: register.workerName, reason: reason))
                } else {
                    var answer = Internvl_V1_RegisterReply()
                    answer.accepted = true
                    answer.nextStageEndpoint = nextStageEndpoint(after: register.workerName) ?? ""
                    lock.withLock {
                        registeredNames.insert(register.workerName)
                        lastSeen[register.workerName] = .now
                        lastHeartbeat[register.workerName] = nil
                        registrations[register.workerName, default: 0] += 1
                    }
                    reply(to: route, .registerReply(answer))
                    eventSink.yield(.registered(worker: register.workerName))
                }
            case .heartbeat(let beat):
                let known = lock.withLock {
                    let known = registeredNames.contains(peer)
                    if known {
                        lastSeen[peer] = .now
                        lastHeartbeat[peer] = beat
                    }
                    return known
                }
                if known { eventSink.yield(.heartbeat(worker: peer)) }
            default:
                let known = lock.withLock { registeredNames.contains(peer) }
                if known { workerMessageSink.yield((worker: peer, message: message)) }
            }
        }
        eventSink.finish()
        workerMessageSink.finish()
    }

    /// Closes the socket; `run()` returns.
    public func stop() { loop.stop() }

    private func reply(to route: ZMQFrame, _ body: Internvl_V1_Envelope.OneOf_Body) {
        guard let frames = try? WireMessage(body).frames() else { return }
        loop.send([route] + frames)
    }

    static func report(_ error: WireError) -> Internvl_V1_ErrorReport {
        var report = Internvl_V1_ErrorReport()
        report.code = error.kind == .protocolVersion ? .protocolVersion : .malformed
        report.message = error.description
        return report
    }

    /// Why `register` must be refused, or nil to accept it.
    func refusal(of register: Internvl_V1_Register) -> String? {
        guard let index = configuration.workers.firstIndex(where: { $0.name == register.workerName }) else {
            return "unknown worker name '\(register.workerName)'; the cluster file lists \(configuration.workers.map(\.name).joined(separator: ", "))"
        }
        let placement = plan.placements[index]
        let role: ClusterConfiguration.Role? = register.role == .vision ? .vision : register.role == .llm ? .llm : nil
        guard role == placement.role else {
            return "worker '\(register.workerName)' registered as \(register.role) but the cluster file says \(placement.role.rawValue)"
        }
        if placement.role == .llm {
            let layers = Int(register.layerBegin)..<Int(register.layerEnd)
            guard layers == placement.layers else {
                return "worker '\(register.workerName)' serves layers \(layers.lowerBound)..<\(layers.upperBound) but the plan gives it \(placement.layers.lowerBound)..<\(placement.layers.upperBound)"
            }
        }
        guard register.modelFingerprint == fingerprint else {
            return "model fingerprint \(register.modelFingerprint.prefix(12)) differs from the coordinator's \(fingerprint.prefix(12)) (a different config.json or weights; check model.path or -m)"
        }
        return nil
    }

    /// The activation endpoint of the LLM stage after `worker`, from the cluster file.
    func nextStageEndpoint(after worker: String) -> String? {
        let stages = configuration.workers.filter { $0.role == .llm }
        guard let index = stages.firstIndex(where: { $0.name == worker }), index + 1 < stages.count else { return nil }
        let next = stages[index + 1]
        guard let port = next.port else { return nil }
        return "tcp://\(next.host ?? ClusterConfiguration.Defaults.host):\(port)"
    }
}
