import Foundation
import SwiftProtobuf
import Transport

/// The protocol version this build speaks.
public let currentProtocolVersion = Internvl_V1_ProtocolVersion.current

/// One cluster message: a protobuf `Envelope` frame followed by the raw tensor frames it references.
public struct WireMessage: @unchecked Sendable {
    public var envelope: Internvl_V1_Envelope
    /// Tensor data frames; `TensorRef.dataFrame` indexes this array.
    public var tensorFrames: [ZMQFrame]

    /// A message with `body`, stamped with the current protocol version.
    public init(_ body: Internvl_V1_Envelope.OneOf_Body, tensorFrames: [ZMQFrame] = []) {
        envelope = Internvl_V1_Envelope()
        envelope.protocolVersion = currentProtocolVersion
        envelope.body = body
        self.tensorFrames = tensorFrames
    }

    init(envelope: Internvl_V1_Envelope, tensorFrames: [ZMQFrame]) {
        self.envelope = envelope
        self.tensorFrames = tensorFrames
    }

    /// The frames to send: the serialized envelope, then the tensor frames (no copies of tensor bytes).
    public func frames() throws -> [ZMQFrame] {
        let bytes: [UInt8] = try envelope.serializedBytes()
        return [ZMQFrame(bytes)] + tensorFrames
    }

    /// Decodes `frames[skip...]` (skip the routing frames a ROUTER socket prepends).
    /// - Throws: `WireError` for an undecodable envelope, another protocol version, or a message without a body.
    public static func decode(_ frames: [ZMQFrame], skip: Int = 0) throws -> WireMessage {
        guard frames.count > skip else { throw WireError(.malformed, "no envelope frame") }
        let envelope: Internvl_V1_Envelope
        do {
            envelope = try Internvl_V1_Envelope(serializedBytes: Array(frames[skip].bytes))
        } catch {
            throw WireError(.malformed, "envelope frame of \(frames[skip].count) bytes is not a valid protobuf Envelope")
        }
        guard envelope.protocolVersion == currentProtocolVersion else {
            throw WireError(.protocolVersion,
                            "peer speaks version \(envelope.protocolVersion.rawValue), this build \(currentProtocolVersion.rawValue)")
        }
        guard envelope.body != nil else { throw WireError(.malformed, "envelope has no body") }
        return WireMessage(envelope: envelope, tensorFrames: Array(frames[(skip + 1)...]))
    }
}
