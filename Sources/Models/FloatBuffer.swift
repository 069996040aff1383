/// A fixed-size, heap-allocated run of Floats with a stable pointer: weights after load and the preallocated
/// activation buffers of a forward pass. Zero-filled at creation; freed with the object.
public final class FloatBuffer: @unchecked Sendable {
    /// Number of Floats.
    public let count: Int
    /// The storage; valid while this object lives.
    public let pointer: UnsafeMutablePointer<Float>

    /// `count` zeros.
    public init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// A copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    /// The contents as an array.
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
