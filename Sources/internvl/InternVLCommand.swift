import ArgumentParser

/// The `internvl` command: every role of the system (tools, single-process inference, cluster roles) is a
/// subcommand of this one binary.
@main
struct InternVLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "internvl",
        abstract: "Run InternVL2 vision-language models on CPUs, on one machine or split across many.",
        discussion: """
            Every option can also be given as an environment variable: --model-dir is INTERNVL_MODEL_DIR,
            --threads is INTERNVL_THREADS, and so on (upper case, dashes become underscores). The flag wins.
            Exit codes: 0 ok, 1 runtime failure, 2 usage or input error.
            """,
        version: InternVLVersion.string,
        subcommands: [
            DemoCommand.self, RunCommand.self, ChatCommand.self, InspectCommand.self, TokenizeCommand.self, InitModelCommand.self, CoordinatorCommand.self, WorkerCommand.self, ClusterCommand.self,
            BenchCommand.self, VersionCommand.self,
        ]
    )

    /// Parses the command line with `INTERNVL_*` environment defaults (see `EnvironmentDefaults`) and runs.
    static func main() async {
        OpenBLASCoreSelection.reexecWithRecognisedCoreIfNeeded()
        let arguments = EnvironmentDefaults.expand(Array(CommandLine.arguments.dropFirst()), root: Self.self)
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            ErrorReporting.exit(with: error)
        }
    }
}

/// The release version of this build.
enum InternVLVersion {
    static let string = "0.1.0"
}
