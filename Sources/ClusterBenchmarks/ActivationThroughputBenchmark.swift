import Foundation
import Transport
import Wire

/// Activation throughput over tcp loopback: `messages` prefill-sized ForwardBatch messages (`rows` x `hidden`
/// activations, f32 or int8 per row) sent one way with up to `inFlight` queued, each encoded by the sender and
/// decoded into floats by a receiver thread, as between two stages. The clock runs from the first send to the
/// last decoded message.
public struct ActivationThroughputBenchmark: Sendable {
    /// Tokens per message (a prefill chunk).
    public var rows: Int
    /// Floats per row (the model's hidden size H).
    public var hidden: Int
    /// Timed messages (after two untimed ones).
    public var messages: Int
    /// Messages that may queue on each side (the sockets' high-water marks) before the sender waits.
    public var inFlight: Int
    /// How the activations travel.
    public var encoding: Encoding

    /// How the activations travel: float32, or int8 with one float32 scale per row.
    public enum Encoding: String, Sendable, CaseIterable {
        case f32
        case int8Row = "int8_row"

        var wire: Internvl_V1_TensorEncoding { self == .int8Row ? .int8Row : .f32 }
    }

    /// A transfer of `messages` messages of `rows` x `hidden` activations in `encoding`.
    public init(rows: Int, hidden: Int, messages: Int, inFlight: Int = 16, encoding: Encoding) {
        self.rows = rows
        self.hidden = hidden
        self.messages = messages
        self.inFlight = inFlight
        self.encoding = encoding
    }

    /// Runs the transfer and returns an `.activationThroughput` record.
    public func run() throws -> ClusterBenchRecord {
        precondition(rows > 0 && hidden > 0 && messages > 0 && inFlight > 0, "sizes must be positive")
        let link = try LoopbackLink(highWaterMark: Int32(inFlight))
        defer { link.close() }
        let warmUp = 2
        let source = LoopbackLink.activations(count: rows * hidden, hidden: hidden)
        let receiver = DrainThread(socket: link.receiver, messages: warmUp + messages, warmUp: warmUp, floats: rows * hidden)
        receiver.start()
        defer { receiver.stopAndJoin() }

        var wireBytes = 0
        let clock = ContinuousClock()
        func sendOne(_ position: Int) throws {
            let frames = try source.withUnsafeBufferPointer {
                try LoopbackLink.forwardBatch($0.baseAddress!, rows: rows, hidden: hidden, position: position, encoding: encoding.wire)
            }
            wireBytes = frames.reduce(0) { $0 + $1.count }
            try link.sender.send(frames)
        }
        for position in 0..<warmUp { try sendOne(position) }
        try receiver.waitForWarmUp()
        let start = clock.now
        for position in warmUp..<(warmUp + messages) { try sendOne(position) }
        try receiver.waitUntilDone()
        let elapsed = seconds(clock.now - start)
        return .activationThroughput(encoding: encoding.rawValue, rows: rows, hidden: hidden, messages: messages,
                                     wireBytes: wireBytes, seconds: elapsed)
    }
}

/// Receives and decodes `messages` ForwardBatch messages; signals after the first `warmUp` and after the last.
private final class DrainThread: @unchecked Sendable {
    private let socket: ZMQSocket
    private let messages: Int
    private let warmUp: Int
    private let floats: Int
    private let warmedUp = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var failure: String?
    private var stopRequested = false

    init(socket: ZMQSocket, messages: Int, warmUp: Int, floats: Int) {
        self.socket = socket
        self.messages = messages
        self.warmUp = warmUp
        self.floats = floats
    }

    func start() {
        let thread = Thread { [self] in
            defer {
                warmedUp.signal()
                done.signal()
                exited.signal()
            }
            do {
                var buffer = [Float](repeating: 0, count: floats)
                var received = 0
                while received < messages {
                    guard try socket.poll(timeoutMilliseconds: 100) else {
                        if lock.withLock({ stopRequested }) { return }
                        continue
                    }
                    guard let frames = try socket.receive(wait: false) else { continue }
                    _ = try buffer.withUnsafeMutableBufferPointer { try LoopbackLink.readForwardBatch(frames, into: $0) }
                    received += 1
                    if received == warmUp { warmedUp.signal() }
                }
            } catch {
                lock.withLock { failure = "\(error)" }
            }
        }
        thread.name = "bench-drain"
        thread.start()
    }

    func waitForWarmUp() throws {
        warmedUp.wait()
        if let failure = lock.withLock({ failure }) { throw BenchmarkError("activation throughput: receiver failed: \(failure)") }
    }

    func waitUntilDone() throws {
        done.wait()
        if let failure = lock.withLock({ failure }) { throw BenchmarkError("activation throughput: receiver failed: \(failure)") }
    }

    func stopAndJoin() {
        lock.withLock { stopRequested = true }
        exited.wait()
    }
}
