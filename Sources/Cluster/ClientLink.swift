import Foundation
import Media
import Transport
import Wire

/// A client of a running cluster: sends one `GenerateRequest` to `coordinator.clients` and waits for the answer,
/// receiving streamed tokens on the way if asked; or asks the coordinator for its status.
public enum ClusterClient {
    /// A request the coordinator answered with an error.
    public struct RequestError: Error, CustomStringConvertible, Equatable {
        /// The coordinator's one-line reason.
        public var message: String
        /// Whether the input was at fault (bad image, prompt over the limit) rather than the cluster.
        public var isInputError: Bool
        public var description: String { message }
    }

    /// A handle to stop a running `generate` from another thread (a signal handler, a UI): the client sends
    /// `Cancel` and the coordinator answers with the error "cancelled".
    public final class Cancellation: @unchecked Sendable {
        private let lock = NSLock()
        private var requested = false

        public init() {}

        /// Asks the coordinator to stop the request (at its next step).
        public func cancel() { lock.withLock { requested = true } }

        /// Whether `cancel()` was called.
        public var isCancelled: Bool { lock.withLock { requested } }
    }

    /// Sends `request` with `images` (encoded files, each in its own frame; `request.imageFrames` and `imageNames`
    /// are filled here) or decoded `videoFrames` (each in its own frame; `request.videoFrames` is filled here) and
    /// returns the coordinator's result. With `onDelta`, the request streams: `onDelta` receives every
    /// `GenerateDelta` (new token ids and their text) before the result. `cancellation` may stop the request.
    /// - Throws: `ClusterRuntimeError.timeout` when no answer arrives within `timeout` (coordinator unreachable),
    ///   `RequestError` when the coordinator reports a failure (including "cancelled").
    public static func generate(_ request: Internvl_V1_GenerateRequest, images: [(name: String, bytes: [UInt8])],
                                videoFrames: [RGBImage] = [], endpoint: String, timeout: Duration,
                                cancellation: Cancellation? = nil,
                                onDelta: ((Internvl_V1_GenerateDelta) -> Void)? = nil) throws -> Internvl_V1_GenerateResult {
        var request = request
        if request.requestID == 0 { request.requestID = UInt64.random(in: 1...UInt64.max) }
        request.stream = onDelta != nil
        request.imageFrames = images.indices.map(UInt32.init)
        request.imageNames = images.map(\.name)
        request.videoFrames = videoFrames.enumerated().map { index, frame in
            var raw = Internvl_V1_RawFrame()
            raw.width = UInt32(frame.width)
            raw.height = UInt32(frame.height)
            raw.dataFrame = UInt32(images.count + index)
            return raw
        }
        let socket = try connect(endpoint)
        defer { socket.close() }
        let frames = images.map { ZMQFrame($0.bytes) } + videoFrames.map { ZMQFrame($0.pixels) }
        try socket.send(try WireMessage(.generateRequest(request), tensorFrames: frames).frames())
        var cancelSentAt: ContinuousClock.Instant?
        let result = try receive(from: socket, endpoint: endpoint, timeout: timeout) { message -> Internvl_V1_GenerateResult? in
            if let cancellation, cancellation.isCancelled, cancelSentAt == nil {
                var cancel = Internvl_V1_Cancel()
                cancel.requestID = request.requestID
                try socket.send(try WireMessage(.cancel(cancel)).frames())
                cancelSentAt = .now
            }
            // A coordinator that does not confirm the cancel soon does not keep the client waiting.
            if let cancelSentAt, ContinuousClock.now - cancelSentAt > .seconds(5) {
                throw RequestError(message: "cancelled (the coordinator did not confirm within 5 s)", isInputError: false)
            }
            switch message?.envelope.body {
            case .generateDelta(let delta) where delta.requestID == request.requestID:
                onDelta?(delta)
                return nil
            case .generateResult(let result) where result.requestID == request.requestID:
                return result
            default:
                return nil
            }
        }
        if !result.error.isEmpty { throw RequestError(message: result.error, isInputError: result.inputError) }
        return result
    }

    /// Asks the coordinator at `endpoint` what it holds: workers (registered, alive, resident sequences from their
    /// heartbeats), waiting requests and running sequences.
    public static func status(endpoint: String, timeout: Duration) throws -> Internvl_V1_ClusterStatus {
        let socket = try connect(endpoint)
        defer { socket.close() }
        try socket.send(try WireMessage(.statusRequest(Internvl_V1_StatusRequest())).frames())
        return try receive(from: socket, endpoint: endpoint, timeout: timeout) { message in
            if case .clusterStatus(let status) = message?.envelope.body { return status }
            return nil
        }
    }

    private static func connect(_ endpoint: String) throws -> ZMQSocket {
        let socket = try ZMQSocket(.dealer)
        do { try socket.connect(endpoint) } catch {
            socket.close()
            throw ClusterRuntimeError(.configuration, "cannot connect to coordinator.clients \(endpoint): \(error)")
        }
        return socket
    }

    /// Polls `socket` (at least every 100 ms, calling `handle` with nil when nothing came) until `handle` returns a
    /// value or `timeout` passes.
    private static func receive<T>(from socket: ZMQSocket, endpoint: String, timeout: Duration,
                                   _ handle: (WireMessage?) throws -> T?) throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            let milliseconds = max(1, Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            var message: WireMessage?
            if try socket.poll(timeoutMilliseconds: min(milliseconds, 100)), let reply = try socket.receive(wait: false) {
                message = try WireMessage.decode(reply)
            }
            if let value = try handle(message) { return value }
        }
        throw ClusterRuntimeError(.timeout, "no answer from the coordinator at \(endpoint) (coordinator.clients) within \(timeout)")
    }
}
