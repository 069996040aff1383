import Foundation

/// Simulated hosts on one Linux machine: one network namespace per host, each joined by a veth pair to a Linux
/// bridge in a hub namespace, with addresses on a private /24.
///
/// Names carry this process's pid (`ivlnet<pid>-<host>`), so parallel runs never collide; `destroy()` (also run
/// on release) deletes every namespace of the lab, which removes their veths and the bridge with them. Namespaces
/// left behind by a killed run (their pid no longer alive) are deleted when the next lab starts.
public final class NetworkNamespaceLab: @unchecked Sendable {
    /// A failed `ip` command: the command line and what it printed.
    public struct CommandError: Error, CustomStringConvertible {
        public var command: String
        public var output: String
        public var description: String { "ip \(command): \(output.trimmingCharacters(in: .whitespacesAndNewlines))" }
    }

    /// One simulated host.
    public struct Host: Sendable {
        /// Its name in the lab (`coordinator`, `llm-a`, ...).
        public var name: String
        /// Its network namespace, for `ip netns exec`.
        public var namespace: String
        /// Its IPv4 address on the lab's /24.
        public var address: String
    }

    /// Prefix of every namespace name this process creates.
    public static var namePrefix: String { "ivlnet\(getpid())" }

    /// The hosts, in the order given.
    public let hosts: [Host]
    /// The namespace holding the bridge.
    public let hub: String
    private let lock = NSLock()
    private var created: [String] = []
    private var destroyed = false

    /// Creates the hub with its bridge and one namespace per host name, addressed `subnet.2`, `subnet.3`, ...
    /// (`subnet` is the first three octets of a private /24). Undoes whatever it created if a step fails.
    public init(hostNames: [String], subnet: String = "10.213.7") throws {
        precondition(!hostNames.isEmpty && hostNames.count < 250, "1...249 hosts")
        Self.removeLeftovers()
        let prefix = Self.namePrefix
        hub = "\(prefix)-hub"
        hosts = hostNames.enumerated().map { index, name in
            Host(name: name, namespace: "\(prefix)-\(name)", address: "\(subnet).\(index + 2)")
        }
        do {
            try addNamespace(hub)
            try Self.ip(["-n", hub, "link", "add", "br0", "type", "bridge"])
            try Self.ip(["-n", hub, "link", "set", "br0", "up"])
            for (index, host) in hosts.enumerated() {
                try addNamespace(host.namespace)
                // The hub end is named after the pid and index (interface names are at most 15 bytes).
                let hubEnd = "v\(getpid())h\(index)"
                try Self.ip(["-n", hub, "link", "add", hubEnd, "type", "veth", "peer", "name", "eth0", "netns", host.namespace])
                try Self.ip(["-n", hub, "link", "set", hubEnd, "master", "br0"])
                try Self.ip(["-n", hub, "link", "set", hubEnd, "up"])
                try Self.ip(["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", "eth0"])
                try Self.ip(["-n", host.namespace, "link", "set", "eth0", "up"])
                try Self.ip(["-n", host.namespace, "link", "set", "lo", "up"])
            }
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    /// The host named `name`.
    public func host(_ name: String) -> Host {
        guard let host = hosts.first(where: { $0.name == name }) else { preconditionFailure("no host \(name) in the lab") }
        return host
    }

    /// Deletes every namespace of the lab (idempotent).
    public func destroy() {
        let names = lock.withLock { () -> [String] in
            guard !destroyed else { return [] }
            destroyed = true
            return created.reversed()
        }
        for name in names { _ = try? Self.ip(["netns", "delete", name]) }
    }

    private func addNamespace(_ name: String) throws {
        try Self.ip(["netns", "add", name])
        lock.withLock { created.append(name) }
    }

    /// Why namespaces cannot be made here (not root, no `ip`, no kernel support), or nil when they can.
    public static func unavailableReason() -> String? {
        guard geteuid() == 0 else { return "network namespaces need root (euid \(geteuid()))" }
        guard ipCommand != nil else { return "no `ip` command on this machine (Debian package iproute2)" }
        let probe = "\(namePrefix)-probe"
        do {
            try ip(["netns", "add", probe])
            _ = try? ip(["netns", "delete", probe])
            return nil
        } catch {
            return "cannot create a network namespace: \(error)"
        }
    }

    /// The `ip` binary, if installed.
    public static let ipCommand: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `ip arguments...`; returns its stdout, throws `CommandError` on a non-zero exit.
    @discardableResult
    public static func ip(_ arguments: [String]) throws -> String {
        guard let ipCommand else { throw CommandError(command: arguments.joined(separator: " "), output: "no ip command") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipCommand)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw CommandError(command: arguments.joined(separator: " "), output: text) }
        return text
    }

    /// Deletes `ivlnet<pid>-*` namespaces whose pid is no longer running (a run killed before its cleanup).
    static func removeLeftovers() {
        guard let listing = try? ip(["netns", "list"]) else { return }
        for line in listing.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix("ivlnet"), let dash = name.firstIndex(of: "-"),
                  let pid = Int32(name[name.index(name.startIndex, offsetBy: 6)..<dash]) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { _ = try? ip(["netns", "delete", name]) }
        }
    }
}
