import Foundation
import Media
import Transport
import Wire

/// A client of a running cluster: sends one `GenerateRequest` to `coordinator.clients` and waits for the answer.
public enum ClusterClient {
    /// A request the coordinator answered with an error.
    public struct RequestError: Error, CustomStringConvertible, Equatable {
        /// The coordinator's one-line reason.
        public var message: String
        /// Whether the input was at fault (bad image, prompt over the limit) rather than the cluster.
        public var isInputError: Bool
        public var description: String { message }
    }

    /// Sends `request` with `images` (encoded files, each in its own frame; `request.imageFrames` and `imageNames`
    /// are filled here) or decoded `videoFrames` (each in its own frame; `request.videoFrames` is filled here) and
    /// returns the coordinator's result.
    /// - Throws: `ClusterRuntimeError.timeout` when no answer arrives within `timeout` (coordinator unreachable),
    ///   `RequestError` when the coordinator reports a failure.
    public static func generate(_ request: Internvl_V1_GenerateRequest, images: [(name: String, bytes: [UInt8])],
                                videoFrames: [RGBImage] = [],
                                endpoint: String, timeout: Duration) throws -> Internvl_V1_GenerateResult {
        var request = request
        if request.requestID == 0 { request.requestID = UInt64.random(in: 1...UInt64.max) }
        request.imageFrames = images.indices.map(UInt32.init)
        request.imageNames = images.map(\.name)
        request.videoFrames = videoFrames.enumerated().map { index, frame in
            var raw = Internvl_V1_RawFrame()
            raw.width = UInt32(frame.width)
            raw.height = UInt32(frame.height)
            raw.dataFrame = UInt32(images.count + index)
            return raw
        }
        let socket = try ZMQSocket(.dealer)
        defer { socket.close() }
        do { try socket.connect(endpoint) } catch {
            throw ClusterRuntimeError(.configuration, "cannot connect to coordinator.clients \(endpoint): \(error)")
        }
        let frames = images.map { ZMQFrame($0.bytes) } + videoFrames.map { ZMQFrame($0.pixels) }
        try socket.send(try WireMessage(.generateRequest(request), tensorFrames: frames).frames())
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            let milliseconds = max(1, Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard try socket.poll(timeoutMilliseconds: min(milliseconds, 1000)),
                  let reply = try socket.receive(wait: false) else { continue }
            let message = try WireMessage.decode(reply)
            guard case .generateResult(let result) = message.envelope.body, result.requestID == request.requestID else { continue }
            if !result.error.isEmpty { throw RequestError(message: result.error, isInputError: result.inputError) }
            return result
        }
        throw ClusterRuntimeError(.timeout, "no answer from the coordinator at \(endpoint) (coordinator.clients) within \(timeout)")
    }
}
