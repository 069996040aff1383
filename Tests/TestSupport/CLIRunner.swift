import Foundation

/// Runs the built `internvl` executable as a child process, as outside users and tests do.
public enum CLIRunner {
    /// The result of one run.
    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `internvl` binary built beside the test bundle.
    public static var executable: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test runner may sit inside `<name>.xctest/...`: walk up to the build products directory.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("internvl")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Fixtures.packageRoot.appendingPathComponent(".build/debug/internvl")
    }

    /// Runs `internvl arguments...` with extra environment variables and optional standard input.
    public static func run(_ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil,
                           timeout: TimeInterval = 120) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INTERNVL_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        let output = Pipe(), errors = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        let outData = DataBox(), errData = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData.data = output.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData.data = errors.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw CLIRunnerError("internvl \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData.data, as: UTF8.self),
                      stderr: String(decoding: errData.data, as: UTF8.self))
    }

    /// Holds one pipe's bytes; written by one reader thread, read after the DispatchGroup wait.
    private final class DataBox: @unchecked Sendable {
        var data = Data()
    }
}

public struct CLIRunnerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
