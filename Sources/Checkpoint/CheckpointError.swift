/// A problem with a model directory: a missing or malformed file, or a configuration this build cannot run.
///
/// Every description is one line that names the file (and the key or tensor) and the problem.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file the problem is in.
    public let file: String
    /// What is wrong, naming the key or tensor where there is one.
    public let problem: String

    public init(file: String, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}
