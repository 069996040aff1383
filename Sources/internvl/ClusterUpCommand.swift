import ArgumentParser
import Cluster
import Foundation

/// `internvl cluster up -c cluster.yaml`: starts and supervises every local process of a cluster.
struct ClusterUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the coordinator and every local worker of a cluster file, and keep them running.",
        discussion: """
            Starts `internvl coordinator` (when coordinator.control is on this host) and `internvl worker --name N`
            for each worker whose host is this machine (127.0.0.1, localhost or this host name), prefixes their logs
            with their names, prints "cluster up" once the coordinator reports every worker registered, restarts a
            process that dies (backoff 1 s doubling to 30 s), and stops them all on Ctrl-C or SIGTERM.
            """)

    @OptionGroup var options: ClusterFileOptions

    @Option(help: "Seconds to wait for the cluster to become ready before giving up.")
    var readyTimeout: Int = 300

    func run() async throws {
        let configuration = try options.load()
        let localHosts: Set<String> = ["127.0.0.1", "localhost", "::1", ProcessInfo.processInfo.hostName]
        var common = ["-c", options.cluster]
        if let modelDir = options.modelDir { common += ["-m", modelDir] }
        var roles: [(name: String, arguments: [String])] = []
        if let control = Endpoint(configuration.coordinator.control), localHosts.contains(control.address) || control.transport != "tcp" {
            roles.append(("coordinator", ["coordinator"] + common))
        }
        for worker in configuration.workers where localHosts.contains(worker.host ?? ClusterConfiguration.Defaults.host) {
            roles.append((worker.name, ["worker"] + common + ["--name", worker.name]))
        }
        guard !roles.isEmpty else {
            throw InputError("\(options.cluster): no coordinator or worker of this file runs on this host")
        }
        let supervisor = Supervisor(roles: roles)
        let signals = SignalWatcher([SIGINT, SIGTERM]) { supervisor.stopAll() }
        defer { _ = signals }
        supervisor.startAll()
        logLine("cluster", "started \(roles.map(\.name).joined(separator: ", "))")
        let ready = await supervisor.waitForLine(containing: "cluster ready", timeout: .seconds(readyTimeout))
        if ready {
            print("cluster up: \(roles.count) local processes, \(configuration.workers.count) workers registered")
            fflush(stdout)
        } else if !supervisor.isStopping {
            logLine("cluster", "not ready after \(readyTimeout) s; stopping")
            supervisor.stopAll()
            throw ExitCode(1)
        }
        await supervisor.waitUntilStopped()
        logLine("cluster", "all processes stopped")
    }
}

/// Runs child processes of this binary, relays their output with a name prefix, restarts those that die.
final class Supervisor: @unchecked Sendable {
    private let roles: [(name: String, arguments: [String])]
    private let lock = NSLock()
    private var processes: [String: Process] = [:]
    private var restarts: [String: Int] = [:]
    private var stopping = false
    private var seenLines: [String] = []

    init(roles: [(name: String, arguments: [String])]) {
        self.roles = roles
    }

    var isStopping: Bool { lock.withLock { stopping } }

    func startAll() {
        for role in roles { start(role.name, role.arguments) }
    }

    private func start(_ name: String, _ arguments: [String]) {
        let process = ClusterProcessGroup.relayingLines(ClusterProcessGroup.currentExecutable, arguments) { [weak self] lines in
            for line in lines { FileHandle.standardError.write(Data("[\(name)] \(line)\n".utf8)) }
            self?.lock.withLock { self?.seenLines += lines }
        }
        process.terminationHandler = { [weak self] finished in
            guard let self else { return }
            let (stop, attempt) = self.lock.withLock { () -> (Bool, Int) in
                self.restarts[name, default: 0] += 1
                return (self.stopping, self.restarts[name]!)
            }
            guard !stop else { return }
            let delay = min(30.0, pow(2, Double(attempt - 1)))
            logLine("cluster", "\(name) exited with status \(finished.terminationStatus); restarting in \(Int(delay)) s")
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                guard !self.isStopping else { return }
                self.start(name, arguments)
            }
        }
        do {
            try process.run()
            lock.withLock { processes[name] = process }
        } catch {
            logLine("cluster", "cannot start \(name): \(error)")
        }
    }

    /// Terminates every child (SIGTERM, then SIGKILL after 5 s).
    func stopAll() {
        let running = lock.withLock { () -> [Process] in
            stopping = true
            return Array(processes.values)
        }
        for process in running where process.isRunning { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
            for process in running where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    func waitForLine(containing needle: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && !isStopping {
            if lock.withLock({ seenLines.contains { $0.contains(needle) } }) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func waitUntilStopped() async {
        while true {
            let done = lock.withLock { stopping && processes.values.allSatisfy { !$0.isRunning } }
            if done { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Runs a handler on the given signals (instead of the default termination).
final class SignalWatcher {
    private var sources: [DispatchSourceSignal] = []

    init(_ signals: [Int32], handler: @escaping @Sendable () -> Void) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }
}
