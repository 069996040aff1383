import Foundation
import SwiftProtobuf
import Testing
import Transport
import Wire

@Suite struct WireMessageTests {
    @Test func garbageIsMalformed() throws {
        let garbage = ZMQFrame([0xFF, 0xFF, 0xFF, 0x07, 0x12])
        #expect { try WireMessage.decode([garbage]) } throws: { ($0 as? WireError)?.kind == .malformed }
        #expect { try WireMessage.decode([]) } throws: { ($0 as? WireError)?.kind == .malformed }
        // A valid protobuf with no body.
        var empty = Internvl_V1_Envelope()
        empty.protocolVersion = .current
        let bytes: [UInt8] = try empty.serializedBytes()
        #expect { try WireMessage.decode([ZMQFrame(bytes)]) } throws: { ($0 as? WireError)?.kind == .malformed }
    }

    @Test func otherProtocolVersionIsRefusedWithBothVersions() throws {
        var message = WireMessage(.heartbeat(Internvl_V1_Heartbeat()))
        message.envelope.protocolVersion = Internvl_V1_ProtocolVersion(rawValue: 99)!
        #expect { try WireMessage.decode(try message.frames()) } throws: { error in
            guard let error = error as? WireError else { return false }
            return error.kind == .protocolVersion && error.description.contains("99") && error.description.contains("1")
        }
    }

    @Test func tensorFrameOfTheWrongSizeIsRefused() throws {
        var frames: [ZMQFrame] = []
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        var reference = values.withUnsafeBufferPointer { TensorFrames.append($0.baseAddress!, rows: 2, columns: 3, to: &frames) }
        reference.shape = [3, 3]
        var out = [Float](repeating: 0, count: 9)
        #expect { try out.withUnsafeMutableBufferPointer { try TensorFrames.read(reference, from: frames, into: $0.baseAddress!) } } throws: {
            ($0 as? WireError)?.kind == .tensor && "\($0)".contains("needs 36")
        }
        reference.shape = [2, 3]
        reference.dataFrame = 5
        #expect { try out.withUnsafeMutableBufferPointer { try TensorFrames.read(reference, from: frames, into: $0.baseAddress!) } } throws: {
            ($0 as? WireError)?.kind == .tensor && "\($0)".contains("missing")
        }
    }

    @Test func int8RowCompressionErrorIsBoundedByHalfAStep() throws {
        var generator = SystemRandomNumberGenerator()
        let rows = 7, columns = 129
        let values: [Float] = (0..<(rows * columns)).map { _ in Float.random(in: -40...40, using: &generator) }
        var frames: [ZMQFrame] = []
        let reference = values.withUnsafeBufferPointer {
            TensorFrames.append($0.baseAddress!, rows: rows, columns: columns, encoding: .int8Row, to: &frames)
        }
        #expect(frames.count == 2 && frames[0].count == rows * columns && frames[1].count == rows * 4)
        var decoded = [Float](repeating: 0, count: values.count)
        try decoded.withUnsafeMutableBufferPointer { try TensorFrames.read(reference, from: frames, into: $0.baseAddress!) }
        for row in 0..<rows {
            let slice = values[(row * columns)..<((row + 1) * columns)]
            let step = slice.map(abs).max()! / 127
            for column in 0..<columns {
                let i = row * columns + column
                #expect(abs(decoded[i] - values[i]) <= step / 2 * 1.0001)
            }
        }
    }
}
