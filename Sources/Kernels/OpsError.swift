/// Why an op refused its arguments; the message names the argument and the limit it broke.
public enum OpsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A buffer holds fewer floats than the shape needs.
    case bufferTooSmall(op: String, argument: String, needed: Int, available: Int)
    /// A size or range argument is outside what the op accepts.
    case invalidArgument(op: String, argument: String, value: Int, requirement: String)

    public var description: String {
        switch self {
        case let .bufferTooSmall(op, argument, needed, available):
            return "\(op): buffer '\(argument)' holds \(available) floats but the shape needs \(needed)"
        case let .invalidArgument(op, argument, value, requirement):
            return "\(op): argument '\(argument)' is \(value) but must be \(requirement)"
        }
    }
}
