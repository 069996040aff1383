/// A message that cannot be accepted: undecodable, from another protocol version, or with inconsistent tensors.
public struct WireError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case malformed
        case protocolVersion
        case tensor
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .malformed: return "malformed message: \(detail)"
        case .protocolVersion: return "protocol version mismatch: \(detail)"
        case .tensor: return "bad tensor frame: \(detail)"
        }
    }
}
