import ArgumentParser

/// `internvl bench ...`: benchmarks that print figures and their ratio to this machine's measured limits.
/// Build with `-c release` before trusting a number.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernels, tokenizer and model speed against this machine's limits (use a release build).",
        subcommands: [BenchKernelsCommand.self, BenchTokenizerCommand.self, BenchClusterCommand.self]
    )
}
