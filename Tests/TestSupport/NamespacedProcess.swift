import Foundation

/// The `internvl` binary run inside a network namespace (`ip netns exec NS internvl ...`): as a long-running role
/// whose output a test waits on, or as one command whose result it reads.
///
/// `ip netns exec` enters the namespace and then executes the command in place (no fork), so the child's pid is the
/// `internvl` process itself and `stop()` signals it directly.
public final class NamespacedProcess: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var output = ""

    /// Starts `internvl arguments...` in `namespace`; stdout and stderr are collected together.
    public init(namespace: String, _ arguments: [String]) throws {
        Self.configure(process, namespace: namespace, arguments)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    /// Everything printed so far.
    public var text: String { lock.withLock { output } }

    public var isRunning: Bool { process.isRunning }

    /// Waits until the output contains `needle`; false on timeout or if the process ended first.
    public func waitFor(_ needle: String, timeout: TimeInterval = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            if !process.isRunning { return text.contains(needle) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Stops the process (SIGTERM, then SIGKILL after 5 s).
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }

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

    private static func configure(_ process: Process, namespace: String, _ arguments: [String]) {
        process.executableURL = URL(fileURLWithPath: NetworkNamespaceLab.ipCommand ?? "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, CLIRunner.executable.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INTERNVL_") }
    }

    /// One pipe's bytes, written by one reader thread and read after the group wait.
    private final class Box: @unchecked Sendable {
        var data = Data()
    }
}
