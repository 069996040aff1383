import CZeroMQ

/// One frame of a ZeroMQ multipart message.
///
/// A received frame keeps libzmq's message alive and exposes its bytes without copying; a frame to send either
/// copies a small buffer or hands a `FrameStorage` to libzmq, which releases it once the bytes are on the wire.
public final class ZMQFrame: @unchecked Sendable {
    let message: UnsafeMutablePointer<zmq_msg_t>

    /// An empty frame.
    public convenience init() {
        self.init(uninitializedMessage: ())
        zmq_msg_init(message)
    }

    /// A frame holding a copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(uninitializedMessage: ())
        zmq_msg_init_size(message, bytes.count)
        if bytes.count > 0 { zmq_msg_data(message).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    /// A frame holding a copy of `bytes`.
    public convenience init<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        self.init(copying: array.withUnsafeBytes { $0 })
        _ = array
    }

    /// A frame that sends `storage`'s bytes without copying them; `storage` is retained until libzmq is done.
    public convenience init(sharing storage: FrameStorage) {
        self.init(uninitializedMessage: ())
        let retained = Unmanaged.passRetained(storage).toOpaque()
        let rc = zmq_msg_init_data(message, storage.pointer, storage.count, { _, hint in
            guard let hint else { return }
            Unmanaged<FrameStorage>.fromOpaque(hint).release()
        }, retained)
        if rc != 0 { Unmanaged<FrameStorage>.fromOpaque(retained).release() }
    }

    private init(uninitializedMessage: Void) {
        message = .allocate(capacity: 1)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// The frame's bytes (valid while this frame lives).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))
    }

    /// The number of bytes.
    public var count: Int { zmq_msg_size(message) }
}

/// Heap bytes that a frame can lend to libzmq without a copy (e.g. an activation tensor).
public final class FrameStorage: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Uninitialized storage of `count` bytes, 64-byte aligned.
    public init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: max(count, 1), alignment: 64)
    }

    public var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }

    deinit { pointer.deallocate() }
}
