import CZeroMQ

/// The process-wide ZeroMQ context.
public final class ZMQContext: @unchecked Sendable {
    /// The shared context (one per process is the libzmq recommendation).
    public static let shared = ZMQContext()

    let handle: UnsafeMutableRawPointer

    private init() {
        handle = zmq_ctx_new()
    }
}

/// A ZeroMQ socket. Not thread-safe (libzmq sockets are not): one thread owns it; `SocketLoop` provides that thread.
public final class ZMQSocket: @unchecked Sendable {
    /// Socket types used by the cluster.
    public enum Kind: Int32, Sendable {
        case pair = 0, dealer = 5, router = 6, push = 8, pull = 7
    }

    let handle: UnsafeMutableRawPointer
    public let kind: Kind
    private var closed = false

    /// A new socket with LINGER 0 (pending messages are dropped on close, so shutdown never hangs).
    public init(_ kind: Kind, context: ZMQContext = .shared) throws {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else { throw ZMQError("zmq_socket") }
        self.handle = handle
        self.kind = kind
        try set(ZMQ_LINGER, 0)
    }

    deinit { close() }

    /// Closes the socket (idempotent).
    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    /// Sets an integer socket option.
    public func set(_ option: Int32, _ value: Int32) throws {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError("zmq_setsockopt(\(option))")
        }
    }

    /// Sets a bytes socket option (identity, CURVE keys).
    public func set(_ option: Int32, bytes: [UInt8]) throws {
        guard bytes.withUnsafeBytes({ zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }) == 0 else {
            throw ZMQError("zmq_setsockopt(\(option))")
        }
    }

    /// The identity a ROUTER peer sees as the first frame of this socket's messages.
    public func setRoutingID(_ identity: String) throws {
        try set(ZMQ_ROUTING_ID, bytes: Array(identity.utf8))
    }

    /// Send and receive high-water marks (messages queued before back-pressure).
    public func setHighWaterMarks(send: Int32, receive: Int32) throws {
        try set(ZMQ_SNDHWM, send)
        try set(ZMQ_RCVHWM, receive)
    }

    /// ZMTP heartbeats: ping every `interval` ms, drop the peer after `timeout` ms without traffic.
    public func setHeartbeat(intervalMilliseconds interval: Int32, timeoutMilliseconds timeout: Int32) throws {
        try set(ZMQ_HEARTBEAT_IVL, interval)
        try set(ZMQ_HEARTBEAT_TIMEOUT, timeout)
        try set(ZMQ_HEARTBEAT_TTL, timeout)
    }

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError("bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError("connect \(endpoint)") }
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to the chosen port).
    public func lastEndpoint() throws -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw ZMQError("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        }
        return String(cString: buffer)
    }

    /// Sends a multipart message. With `wait == false` a full queue (high-water mark) throws EAGAIN.
    /// - Returns: false if the message could not be queued without blocking.
    @discardableResult
    public func send(_ frames: [ZMQFrame], wait: Bool = true) throws -> Bool {
        precondition(!frames.isEmpty, "a message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if !wait { flags |= ZMQ_DONTWAIT }
            // zmq_msg_send moves the content out of the message; send a copy-by-reference so `frame` stays valid.
            let outgoing = ZMQFrame()
            zmq_msg_copy(outgoing.message, frame.message)
            while zmq_msg_send(outgoing.message, handle, flags) < 0 {
                let error = ZMQError("send")
                if error.code == EINTR { continue }
                if error.code == EAGAIN && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives one multipart message; nil when `wait` is false and nothing is queued.
    public func receive(wait: Bool = true) throws -> [ZMQFrame]? {
        var frames: [ZMQFrame] = []
        while true {
            let frame = ZMQFrame()
            let flags: Int32 = wait || !frames.isEmpty ? 0 : ZMQ_DONTWAIT
            if zmq_msg_recv(frame.message, handle, flags) < 0 {
                let error = ZMQError("receive")
                if error.code == EINTR { continue }
                if error.code == EAGAIN && frames.isEmpty { return nil }
                throw error
            }
            frames.append(frame)
            if zmq_msg_more(frame.message) == 0 { return frames }
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) until a message can be received.
    public func poll(timeoutMilliseconds: Int) throws -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let rc = zmq_poll(&item, 1, timeoutMilliseconds)
        if rc < 0 {
            let error = ZMQError("poll")
            if error.code == EINTR { return false }
            throw error
        }
        return rc > 0
    }
}
