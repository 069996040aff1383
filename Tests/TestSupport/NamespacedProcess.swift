import Foundation

/// The `internvl` binary run inside a network namespace (`ip netns exec NS internvl ...`): as a long-running role
/// whose output a test waits on (a `BackgroundProcess`), or as one command whose result it reads.
///
/// `ip netns exec` enters the namespace and then executes the command in place (no fork), so the child's pid is the
/// `internvl` process itself and `stop()` signals it directly.
public enum NamespacedProcess {
    /// Starts `internvl arguments...` in `namespace` as a `BackgroundProcess` (stdout and stderr collected together).
    public static func start(namespace: String, _ arguments: [String]) throws -> BackgroundProcess {
        try BackgroundProcess(executable: ipExecutable, arguments: ["netns", "exec", namespace, CLIRunner.executable.path] + arguments)
    }

    /// Runs `internvl arguments...` in `namespace` to completion (stdout and stderr apart), like `CLIRunner.run`.
    public static func run(namespace: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> CLIRunner.Result {
        let process = Process()
        configure(process, namespace: namespace, arguments)
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let group = DispatchGroup()
        let outData = Box(), errData = Box()
        group.enter()
        DispatchQueue.global().async { outData.data = output.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData.data = errors.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw CLIRunnerError("internvl \(arguments.joined(separator: " ")) in namespace \(namespace) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        return CLIRunner.Result(status: process.terminationStatus,
                                stdout: String(decoding: outData.data, as: UTF8.self),
                                stderr: String(decoding: errData.data, as: UTF8.self))
    }

    private static var ipExecutable: URL { URL(fileURLWithPath: NetworkNamespaceLab.ipCommand ?? "/usr/sbin/ip") }

    private static func configure(_ process: Process, namespace: String, _ arguments: [String]) {
        process.executableURL = ipExecutable
        process.arguments = ["netns", "exec", namespace, CLIRunner.executable.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INTERNVL_") }
    }

    /// One pipe's bytes, written by one reader thread and read after the group wait.
    private final class Box: @unchecked Sendable {
        var data = Data()
    }
}
