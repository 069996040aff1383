import Foundation
import Transport
import Wire

/// What a worker announces about itself when it joins.
public struct WorkerIdentity: Sendable, Equatable {
    public var name: String
    public var role: ClusterConfiguration.Role
    public var layers: Range<Int>
    public var modelFingerprint: String
    public var activationEndpoint: String
    public var threads: Int
    public var kvCacheBytes: Int
    public var kernelLevel: String

    public init(name: String, role: ClusterConfiguration.Role, layers: Range<Int>, modelFingerprint: String,
                activationEndpoint: String = "", threads: Int = 1, kvCacheBytes: Int = 0, kernelLevel: String = "") {
        self.name = name
        self.role = role
        self.layers = layers
        self.modelFingerprint = modelFingerprint
        self.activationEndpoint = activationEndpoint
        self.threads = threads
        self.kvCacheBytes = kvCacheBytes
        self.kernelLevel = kernelLevel
    }

    /// The `Register` message for this identity.
    public var registerMessage: Internvl_V1_Register {
        var message = Internvl_V1_Register()
        message.workerName = name
        message.role = role == .vision ? .vision : .llm
        message.layerBegin = UInt32(layers.lowerBound)
        message.layerEnd = UInt32(layers.upperBound)
        message.modelFingerprint = modelFingerprint
        message.activationEndpoint = activationEndpoint
        message.threads = UInt32(threads)
        message.kvCacheBytes = UInt64(kvCacheBytes)
        message.kernelLevel = kernelLevel
        return message
    }
}

/// The worker side of the control connection: registers with the coordinator, then heartbeats.
public final class WorkerControlLink: @unchecked Sendable {
    public let identity: WorkerIdentity
    private let loop: SocketLoop
    private var iterator: AsyncStream<[ZMQFrame]>.AsyncIterator

    /// Connects to the coordinator's control endpoint (the connection is made in the background by ZeroMQ).
    public init(identity: WorkerIdentity, coordinatorEndpoint: String) throws {
        self.identity = identity
        let socket = try ZMQSocket(.dealer)
        try socket.setRoutingID(identity.name)
        try socket.setHeartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 10_000)
        try socket.connect(coordinatorEndpoint)
        loop = SocketLoop(socket: socket, name: "worker-control")
        iterator = loop.incoming.makeAsyncIterator()
    }

    /// Sends `Register` and waits for the answer. On a timeout the link is closed.
    /// - Returns: the reply of an accepted registration (with the next stage's endpoint, if any).
    /// - Throws: `ClusterRuntimeError.refused` with the coordinator's reason, or `.timeout`.
    public func register(timeout: Duration = .seconds(60)) async throws -> Internvl_V1_RegisterReply {
        loop.send(try WireMessage(.register(identity.registerMessage)).frames())
        let loop = self.loop
        let timer = Task {
            try await Task.sleep(for: timeout)
            loop.stop() // finishes `incoming`, so the wait below ends
        }
        defer { timer.cancel() }
        while let frames = await iterator.next() {
            let message: WireMessage
            do { message = try WireMessage.decode(frames) } catch {
                throw ClusterRuntimeError(.refused, "coordinator answered with an unreadable message: \(error)")
            }
            switch message.envelope.body {
            case .registerReply(let reply):
                guard reply.accepted else {
                    throw ClusterRuntimeError(.refused, "coordinator refused worker '\(identity.name)': \(reply.reason)")
                }
                return reply
            case .error(let report):
                throw ClusterRuntimeError(.refused, "coordinator refused worker '\(identity.name)': \(report.message)")
            default:
                continue
            }
        }
        throw ClusterRuntimeError(.timeout, "no answer from the coordinator within \(timeout)")
    }

    /// Sends one heartbeat.
    public func heartbeat(activeSequences: Int = 0, kvBytesUsed: Int = 0) throws {
        var beat = Internvl_V1_Heartbeat()
        beat.sentUnixMs = UInt64(Date().timeIntervalSince1970 * 1000)
        beat.activeSequences = UInt32(activeSequences)
        beat.kvCacheBytesUsed = UInt64(kvBytesUsed)
        loop.send(try WireMessage(.heartbeat(beat)).frames())
    }

    /// The next message from the coordinator after registration (work requests, frees); nil once the link is closed.
    public func nextMessage() async -> WireMessage? {
        while let frames = await iterator.next() {
            if let message = try? WireMessage.decode(frames) { return message }
        }
        return nil
    }

    /// Queues `message` for the coordinator.
    public func send(_ message: WireMessage) throws {
        loop.send(try message.frames())
    }

    /// Closes the connection.
    public func close() { loop.stop() }
}
