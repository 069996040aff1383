import Foundation
import Transport
import Wire

/// Per-hop latency of one decode step: a ForwardBatch envelope plus one hidden-state row of `hidden` floats sent
/// over PUSH/PULL tcp loopback to an echo thread that decodes it and sends the same kind of message back.
/// One hop is half a round trip; the record holds the median and the 99th percentile.
public struct HopLatencyBenchmark: Sendable {
    /// Floats in the hidden-state row (the model's hidden size H).
    public var hidden: Int
    /// Timed round trips.
    public var roundTrips: Int
    /// Round trips before timing starts (connection set-up, first allocations).
    public var warmUp: Int

    /// A ping-pong of `roundTrips` timed round trips after `warmUp` untimed ones.
    public init(hidden: Int, roundTrips: Int, warmUp: Int = 20) {
        self.hidden = hidden
        self.roundTrips = roundTrips
        self.warmUp = warmUp
    }

    /// Runs the ping-pong and returns a `.hopLatency` record.
    public func run() throws -> ClusterBenchRecord {
        precondition(hidden > 0 && roundTrips > 0, "hidden and roundTrips must be positive")
        let forward = try LoopbackLink(), backward = try LoopbackLink()
        defer { forward.close(); backward.close() }
        let total = warmUp + roundTrips
        let hidden = hidden

        let echo = EchoThread(receiver: forward.receiver, sender: backward.sender, messages: total, hidden: hidden)
        echo.start()
        defer { echo.stopAndJoin() }

        let row = LoopbackLink.activations(count: hidden, hidden: hidden)
        var reply = [Float](repeating: 0, count: hidden)
        let clock = ContinuousClock()
        var halfTrips: [Double] = []
        halfTrips.reserveCapacity(roundTrips)
        for position in 0..<total {
            let start = clock.now
            let frames = try row.withUnsafeBufferPointer {
                try LoopbackLink.forwardBatch($0.baseAddress!, rows: 1, hidden: hidden, position: position)
            }
            try forward.sender.send(frames)
            guard let answer = try receive(backward.receiver, echo: echo) else {
                throw BenchmarkError("hop latency: the echo thread stopped: \(echo.failure ?? "no answer")")
            }
            _ = try reply.withUnsafeMutableBufferPointer { try LoopbackLink.readForwardBatch(answer, into: $0) }
            if position >= warmUp { halfTrips.append(seconds(clock.now - start) / 2) }
        }
        let bytes = try row.withUnsafeBufferPointer {
            try LoopbackLink.forwardBatch($0.baseAddress!, rows: 1, hidden: hidden, position: 0).reduce(0) { $0 + $1.count }
        }
        halfTrips.sort()
        let median = halfTrips[halfTrips.count / 2]
        let p99 = halfTrips[min(halfTrips.count - 1, Int((Double(halfTrips.count) * 0.99).rounded(.up)) - 1)]
        return .hopLatency(hidden: hidden, bytes: bytes, roundTrips: roundTrips, median: median, p99: p99)
    }

    /// Receives one message, polling so a failed echo thread ends the wait.
    private func receive(_ socket: ZMQSocket, echo: EchoThread) throws -> [ZMQFrame]? {
        while true {
            if try socket.poll(timeoutMilliseconds: 100) { return try socket.receive(wait: false) }
            if echo.failure != nil { return nil }
        }
    }
}

/// The far end of the ping-pong: decodes each ForwardBatch into a buffer and sends one back, `messages` times.
/// It owns its two sockets while it runs.
private final class EchoThread: @unchecked Sendable {
    private let receiver: ZMQSocket
    private let sender: ZMQSocket
    private let messages: Int
    private let hidden: Int
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var failureText: String?
    private var stopRequested = false

    init(receiver: ZMQSocket, sender: ZMQSocket, messages: Int, hidden: Int) {
        self.receiver = receiver
        self.sender = sender
        self.messages = messages
        self.hidden = hidden
    }

    /// Why the thread stopped early, if it did.
    var failure: String? { lock.withLock { failureText } }

    func start() {
        let thread = Thread { [self] in
            defer { finished.signal() }
            do {
                var buffer = [Float](repeating: 0, count: hidden)
                var answered = 0
                while answered < messages {
                    guard try receiver.poll(timeoutMilliseconds: 100) else {
                        if lock.withLock({ stopRequested }) { return }
                        continue
                    }
                    guard let frames = try receiver.receive(wait: false) else { continue }
                    answered += 1
                    let batch = try buffer.withUnsafeMutableBufferPointer { try LoopbackLink.readForwardBatch(frames, into: $0) }
                    let position = Int(batch.chunks.first?.startPosition ?? 0)
                    let reply = try buffer.withUnsafeBufferPointer {
                        try LoopbackLink.forwardBatch($0.baseAddress!, rows: 1, hidden: hidden, position: position)
                    }
                    try sender.send(reply)
                }
            } catch {
                lock.withLock { failureText = "\(error)" }
            }
        }
        thread.name = "bench-echo"
        thread.start()
    }

    /// Asks the thread to stop once it has nothing to read, and waits for it.
    func stopAndJoin() {
        lock.withLock { stopRequested = true }
        finished.wait()
    }
}
