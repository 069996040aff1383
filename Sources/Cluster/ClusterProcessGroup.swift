import Foundation

/// Child processes of a local cluster (a coordinator and its workers, as `internvl demo` and `bench cluster` run
/// it), started from one executable and stopped together: on `stopAll()`, on release, or from a signal handler. Their output is kept so a readiness
/// line can be awaited and shown when something fails.
public final class ClusterProcessGroup: @unchecked Sendable {
    private let executable: URL
    private let lock = NSLock()
    private var processes: [(name: String, process: Process)] = []
    private var lines: [String] = []

    /// Children run `executable` (the `internvl` binary).
    public init(executable: URL) {
        self.executable = executable
    }

    deinit { stopAll() }

    /// This program's own executable (the `internvl` binary), which children of a local cluster run.
    public static var currentExecutable: URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }

    /// A process of `executable arguments...`, not yet started, whose stdout and stderr go through one pipe to
    /// `onLines`, a batch of complete lines at a time. `environment` nil keeps this process's environment.
    public static func relayingLines(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                                     onLines: @escaping @Sendable ([String]) -> Void) -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let splitter = LineSplitter()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            let complete = splitter.append(data)
            if !complete.isEmpty { onLines(complete) }
        }
        return process
    }

    /// Starts the coordinator and the workers named `workers` of cluster file `file`, and waits until the
    /// coordinator reports every worker registered ("cluster ready").
    /// - Throws: `ClusterRuntimeError` when a child cannot start, exits early, or the cluster is not ready in time.
    public func startCluster(file: URL, workers: [String], readyTimeout: TimeInterval) throws {
        try start("coordinator", ["coordinator", "-c", file.path])
        for name in workers { try start(name, ["worker", "-c", file.path, "--name", name]) }
        try waitForLine(containing: "cluster ready", timeout: readyTimeout)
    }

    /// Starts `executable arguments...` as `name` (without `INTERNVL_*` variables of this process); its stdout and
    /// stderr lines are kept, prefixed with the name.
    public func start(_ name: String, _ arguments: [String]) throws {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INTERNVL_") }
        let process = Self.relayingLines(executable, arguments, environment: environment) { [weak self] complete in
            guard let self else { return }
            self.lock.withLock { self.lines += complete.map { "[\(name)] \($0)" } }
        }
        do {
            try process.run()
        } catch {
            throw ClusterRuntimeError(.configuration, "cannot start \(executable.path) \(arguments.joined(separator: " ")): \(error)")
        }
        lock.withLock { processes.append((name, process)) }
    }

    /// Waits until some child printed a line containing `needle`.
    /// - Throws: `ClusterRuntimeError` naming the child that exited, or the timeout, with the children's last lines.
    public func waitForLine(containing needle: String, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (found, exited) = lock.withLock { () -> (Bool, String?) in
                (lines.contains { $0.contains(needle) }, processes.first { !$0.process.isRunning }?.name)
            }
            if found { return }
            if let exited {
                throw ClusterRuntimeError(.configuration, "\(exited) exited before \"\(needle)\"; last output:\n\(recentOutput())")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw ClusterRuntimeError(.timeout, "no \"\(needle)\" within \(Int(timeout)) s; last output:\n\(recentOutput())")
    }

    /// The last lines the children printed.
    public func recentOutput(lines count: Int = 20) -> String {
        lock.withLock { lines.suffix(count).joined(separator: "\n") }
    }

    /// Stops every child (SIGTERM, SIGKILL after 5 s) and waits for them; safe to call from any thread, repeatedly.
    public func stopAll() {
        let running = lock.withLock { () -> [Process] in
            defer { processes.removeAll() }
            return processes.map(\.process)
        }
        for process in running where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while running.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        for process in running where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        lock.withLock { lines.removeAll() }
    }
}

/// Splits a byte stream into lines (fed by one reader at a time), for relaying child-process output.
public final class LineSplitter: @unchecked Sendable {
    private var partial = ""

    public init() {}

    /// The complete lines `data` finishes; a trailing partial line waits for the next call.
    public func append(_ data: Data) -> [String] {
        partial += String(decoding: data, as: UTF8.self)
        var complete: [String] = []
        while let newline = partial.firstIndex(of: "\n") {
            complete.append(String(partial[..<newline]))
            partial = String(partial[partial.index(after: newline)...])
        }
        return complete
    }
}
