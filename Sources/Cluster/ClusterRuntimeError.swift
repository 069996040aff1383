/// A failure of a running cluster role: registration refused, a peer that never answered, a dead worker.
public struct ClusterRuntimeError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The coordinator refused this worker (version, fingerprint, name or layer range).
        case refused
        /// No answer within the allowed time.
        case timeout
        /// A configuration problem detected at start-up (unknown worker name, ...).
        case configuration
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
