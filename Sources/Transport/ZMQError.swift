import CZeroMQ

/// A failed ZeroMQ call, with the operation, the endpoint if any, and libzmq's message.
public struct ZMQError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let code: Int32
    public let message: String

    init(_ operation: String, code: Int32 = zmq_errno()) {
        self.operation = operation
        self.code = code
        self.message = String(cString: zmq_strerror(code))
    }

    public var description: String { "\(operation): \(message)" }

    /// The call was interrupted or would block; not a failure of the socket.
    var isTransient: Bool { code == EAGAIN || code == EINTR }
}
