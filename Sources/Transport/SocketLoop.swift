import CZeroMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Owns one ZeroMQ socket on a dedicated I/O thread and bridges it to Swift concurrency: any thread may `send`,
/// received messages arrive on the `incoming` async stream. The socket is touched only by the loop's thread.
public final class SocketLoop: @unchecked Sendable {
    /// Received multipart messages, in arrival order. Finishes after `stop()`.
    public let incoming: AsyncStream<[ZMQFrame]>
    private let continuation: AsyncStream<[ZMQFrame]>.Continuation
    private let socket: ZMQSocket
    private let lock = NSLock()
    private var outgoing: [[ZMQFrame]] = []
    private var stopping = false
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)
    /// Called on the loop thread when a send fails (the message is dropped).
    private let onSendError: (@Sendable (ZMQError) -> Void)?

    /// Starts the loop; `socket` now belongs to it and must not be used by the caller any more.
    public init(socket: ZMQSocket, name: String = "zmq-io", onSendError: (@Sendable (ZMQError) -> Void)? = nil) {
        self.socket = socket
        self.onSendError = onSendError
        (incoming, continuation) = AsyncStream.makeStream(of: [ZMQFrame].self, bufferingPolicy: .unbounded)
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe() failed: \(String(cString: strerror(errno)))")
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, fcntl(wakeRead, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, fcntl(wakeWrite, F_GETFL) | O_NONBLOCK)
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues a message for sending (returns at once).
    public func send(_ frames: [ZMQFrame]) {
        lock.lock()
        let accepted = !stopping
        if accepted { outgoing.append(frames) }
        lock.unlock()
        if accepted { wake() }
    }

    /// Stops the loop: sends what is queued, closes the socket (LINGER 0) and finishes `incoming`. Waits for it.
    public func stop() {
        lock.lock()
        let first = !stopping
        stopping = true
        lock.unlock()
        guard first else { return }
        wake()
        finished.wait()
        close(wakeRead)
        close(wakeWrite)
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private func run() {
        var items = [
            zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
            zmq_pollitem_t(socket: nil, fd: wakeRead, events: Int16(ZMQ_POLLIN), revents: 0),
        ]
        while true {
            lock.lock()
            let batch = outgoing
            outgoing.removeAll(keepingCapacity: true)
            let stop = stopping
            lock.unlock()
            for frames in batch {
                do { try socket.send(frames) } catch let error as ZMQError { onSendError?(error) } catch {}
            }
            if stop { break }
            items[0].revents = 0
            items[1].revents = 0
            if zmq_poll(&items, 2, -1) < 0 { continue }
            if items[1].revents != 0 { drainWakeups() }
            // Drain everything readable now (the socket's readiness is edge-like inside libzmq).
            while let frames = try? socket.receive(wait: false) {
                continuation.yield(frames)
            }
        }
        socket.close()
        continuation.finish()
        finished.signal()
    }
}
