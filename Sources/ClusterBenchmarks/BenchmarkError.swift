/// A benchmark that could not run: one line naming what failed.
public struct BenchmarkError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
