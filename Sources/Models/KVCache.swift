/// The keys and values of one sequence for the layers of one decoder stage: f32, preallocated for `capacity`
/// positions, per layer [capacity, kvHeads * headDim] row-major. Keys are stored after RoPE, with the rotation
/// they got when they were computed.
public final class KVCache {
    /// Layers covered (the stage's layer count).
    public let layerCount: Int
    /// Maximum positions.
    public let capacity: Int
    /// kvHeads * headDim.
    public let rowWidth: Int
    /// Per layer, [capacity, rowWidth].
    let keys: [FloatBuffer]
    /// Per layer, [capacity, rowWidth].
    let values: [FloatBuffer]
    /// Positions filled so far; the next forward call starts at this position.
    public internal(set) var length: Int = 0

    /// An empty cache.
    public init(layerCount: Int, capacity: Int, rowWidth: Int) {
        self.layerCount = layerCount
        self.capacity = capacity
        self.rowWidth = rowWidth
        keys = (0..<layerCount).map { _ in FloatBuffer(count: capacity * rowWidth) }
        values = (0..<layerCount).map { _ in FloatBuffer(count: capacity * rowWidth) }
    }

    /// Forgets all positions (the buffers are reused).
    public func reset() { length = 0 }

    /// The stored key of `layer` (stage-local index) at `position`, all kv heads.
    public func key(layer: Int, position: Int) -> [Float] {
        precondition(position < length, "KV cache: position \(position) not filled (length \(length))")
        return Array(UnsafeBufferPointer(start: keys[layer].pointer + position * rowWidth, count: rowWidth))
    }

    /// The stored value of `layer` (stage-local index) at `position`, all kv heads.
    public func value(layer: Int, position: Int) -> [Float] {
        precondition(position < length, "KV cache: position \(position) not filled (length \(length))")
        return Array(UnsafeBufferPointer(start: values[layer].pointer + position * rowWidth, count: rowWidth))
    }
}
