import Foundation
import Transport

/// Packs float32 activations into tensor frames and back, optionally compressed to int8 per row.
public enum TensorFrames {
    /// Encodes `rows x columns` floats as frames appended to `frames`; returns the reference to put in a message.
    public static func append(_ values: UnsafePointer<Float>, rows: Int, columns: Int,
                              encoding: Internvl_V1_TensorEncoding = .f32,
                              to frames: inout [ZMQFrame]) -> Internvl_V1_TensorRef {
        var reference = Internvl_V1_TensorRef()
        reference.shape = [Int64(rows), Int64(columns)]
        reference.encoding = encoding
        reference.dataFrame = UInt32(frames.count)
        switch encoding {
        case .int8Row:
            let data = FrameStorage(count: rows * columns)
            let scales = FrameStorage(count: rows * 4)
            let quantized = data.pointer.bindMemory(to: Int8.self, capacity: rows * columns)
            let scale = scales.pointer.bindMemory(to: Float.self, capacity: rows)
            for row in 0..<rows {
                let source = values + row * columns
                var maximum: Float = 0
                for column in 0..<columns { maximum = max(maximum, abs(source[column])) }
                let step = maximum / 127
                scale[row] = step
                let inverse: Float = step > 0 ? 1 / step : 0
                for column in 0..<columns {
                    quantized[row * columns + column] = Int8((source[column] * inverse).rounded())
                }
            }
            frames.append(ZMQFrame(sharing: data))
            reference.scaleFrame = UInt32(frames.count)
            frames.append(ZMQFrame(sharing: scales))
        default:
            reference.encoding = .f32
            let storage = FrameStorage(count: rows * columns * 4)
            storage.pointer.copyMemory(from: values, byteCount: rows * columns * 4)
            frames.append(ZMQFrame(sharing: storage))
        }
        return reference
    }

    /// The element count a reference describes, validated against the frames it names.
    public static func validate(_ reference: Internvl_V1_TensorRef, in frames: [ZMQFrame]) throws -> (rows: Int, columns: Int) {
        guard reference.shape.count == 2, reference.shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
            throw WireError(.tensor, "shape \(reference.shape) is not [rows, columns]")
        }
        let rows = Int(reference.shape[0]), columns = Int(reference.shape[1])
        let index = Int(reference.dataFrame)
        guard index < frames.count else {
            throw WireError(.tensor, "data frame \(index) missing (message has \(frames.count) tensor frames)")
        }
        let elementSize: Int
        switch reference.encoding {
        case .f32: elementSize = 4
        case .bf16: elementSize = 2
        case .int8Row:
            elementSize = 1
            let scaleIndex = Int(reference.scaleFrame)
            guard scaleIndex < frames.count, frames[scaleIndex].count == rows * 4 else {
                throw WireError(.tensor, "scale frame \(scaleIndex) missing or not \(rows) float32 scales")
            }
        default:
            throw WireError(.tensor, "unknown encoding \(reference.encoding.rawValue)")
        }
        guard frames[index].count == rows * columns * elementSize else {
            throw WireError(.tensor, "frame \(index) has \(frames[index].count) bytes, shape \(reference.shape) needs \(rows * columns * elementSize)")
        }
        return (rows, columns)
    }

    /// Decodes a referenced tensor into `destination` (rows x columns floats).
    public static func read(_ reference: Internvl_V1_TensorRef, from frames: [ZMQFrame],
                            into destination: UnsafeMutablePointer<Float>) throws {
        let (rows, columns) = try validate(reference, in: frames)
        let data = frames[Int(reference.dataFrame)].bytes
        let count = rows * columns
        switch reference.encoding {
        case .f32:
            if count > 0 { UnsafeMutableRawPointer(destination).copyMemory(from: data.baseAddress!, byteCount: count * 4) }
        case .bf16:
            for i in 0..<count {
                destination[i] = Float(bitPattern: UInt32(data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .int8Row:
            let scales = frames[Int(reference.scaleFrame)].bytes
            for row in 0..<rows {
                let scale = scales.loadUnaligned(fromByteOffset: 4 * row, as: Float.self)
                for column in 0..<columns {
                    destination[row * columns + column] = Float(Int8(bitPattern: data[row * columns + column])) * scale
                }
            }
        default:
            throw WireError(.tensor, "unknown encoding \(reference.encoding.rawValue)")
        }
    }
}
