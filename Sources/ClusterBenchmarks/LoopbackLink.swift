import Foundation
import Transport
import Wire

/// A one-way PUSH -> PULL link over tcp loopback, as between two consecutive LLM stages, and the decode-step
/// messages the link benchmarks send over it.
struct LoopbackLink {
    let sender: ZMQSocket
    let receiver: ZMQSocket

    /// Binds the PULL end on a kernel-chosen loopback port and connects the PUSH end to it; `highWaterMark`
    /// messages may queue on each side before the sender blocks.
    init(highWaterMark: Int32 = 1000) throws {
        receiver = try ZMQSocket(.pull)
        sender = try ZMQSocket(.push)
        try receiver.setHighWaterMarks(send: highWaterMark, receive: highWaterMark)
        try sender.setHighWaterMarks(send: highWaterMark, receive: highWaterMark)
        try receiver.bind("tcp://127.0.0.1:*")
        try sender.connect(try receiver.lastEndpoint())
    }

    func close() {
        sender.close()
        receiver.close()
    }

    /// A ForwardBatch of one sequence's `rows` tokens at `position`, with the hidden states `values` [rows, hidden]
    /// in `encoding`, as a stage sends it to the next.
    static func forwardBatch(_ values: UnsafePointer<Float>, rows: Int, hidden: Int, position: Int,
                             encoding: Internvl_V1_TensorEncoding = .f32) throws -> [ZMQFrame] {
        var chunk = Internvl_V1_SequenceChunk()
        chunk.sequenceID = 1
        chunk.startPosition = UInt32(position)
        chunk.rowBegin = 0
        chunk.sample = true
        chunk.maxPositions = UInt32(position + rows + 1)
        var batch = Internvl_V1_ForwardBatch()
        batch.batchID = UInt64(position + 1)
        batch.chunks = [chunk]
        var tensorFrames: [ZMQFrame] = []
        batch.hiddenStates = TensorFrames.append(values, rows: rows, columns: hidden, encoding: encoding, to: &tensorFrames)
        return try WireMessage(.forwardBatch(batch), tensorFrames: tensorFrames).frames()
    }

    /// Decodes a ForwardBatch message and its hidden states into `destination` (rows x hidden floats, or fewer:
    /// then it throws); returns the batch.
    static func readForwardBatch(_ frames: [ZMQFrame], into destination: UnsafeMutableBufferPointer<Float>) throws -> Internvl_V1_ForwardBatch {
        let message = try WireMessage.decode(frames)
        guard case .forwardBatch(let batch) = message.envelope.body else {
            throw WireError(.malformed, "expected a ForwardBatch")
        }
        let (rows, columns) = try TensorFrames.validate(batch.hiddenStates, in: message.tensorFrames)
        guard rows * columns <= destination.count else {
            throw WireError(.tensor, "hidden states \(rows)x\(columns) exceed the \(destination.count) floats of the buffer")
        }
        try TensorFrames.read(batch.hiddenStates, from: message.tensorFrames, into: destination.baseAddress!)
        return batch
    }

    /// `count` activation-like values (a smooth wave with a per-row scale), deterministic.
    static func activations(count: Int, hidden: Int) -> [Float] {
        (0..<count).map { index in
            let row = index / max(hidden, 1)
            return Float(sin(Double(index) * 0.013)) * Float(1 + row % 7)
        }
    }
}

/// Seconds of a clock duration.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
