import Foundation

/// A long-running `internvl` child process (coordinator, worker) whose output a test can wait on.
public final class BackgroundProcess: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    private var output = ""

    /// Starts `internvl arguments...`; stdout and stderr are collected together.
    public convenience init(_ arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(executable: CLIRunner.executable, arguments: arguments, environment: environment)
    }

    /// Starts `executable arguments...` (e.g. `ip netns exec NS internvl ...`) with this process's environment
    /// minus `INTERNVL_*`, plus `environment`; stdout and stderr are collected together.
    public init(executable: URL, arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INTERNVL_") }
        env.merge(environment) { _, new in new }
        process.environment = env
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

    /// Waits for the process to exit by itself; returns its status, or nil on timeout.
    public func waitForExit(timeout: TimeInterval = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Stops the process (SIGTERM, then SIGKILL after a grace period).
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        if waitForExit(timeout: 5) == nil { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}

/// Free TCP ports on loopback, found by binding port 0.
public enum FreePorts {
    public static func take(_ count: Int) -> [Int] {
        var sockets: [Int32] = []
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = bind(fd, $0, length)
                    _ = getsockname(fd, $0, &length)
                }
            }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
            sockets.append(fd)
        }
        sockets.forEach { close($0) }
        return ports
    }
}
