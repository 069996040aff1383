import ArgumentParser
import Checkpoint
import Cluster
import InternVL
import Media
import Models
import Tokenizer
import Video
import Foundation

/// How the CLI reports a failure: one line on stderr and an exit code (2 for bad input, 1 for runtime failures).
enum ErrorReporting {
    /// Whether `error` is about the user's input (a file, a flag value, a limit) rather than a runtime failure.
    static func isInputError(_ error: Error) -> Bool {
        switch error {
        case is CheckpointError, is ClusterConfigurationError, is InputError, is InternVLError, is MediaError,
             is TokenizerError, is ModelError, is VideoError:
            return true
        case let error as ClusterRuntimeError: return error.kind != .timeout
        default: return false
        }
    }

    /// Prints `error` as one line and exits: 2 for input errors, 1 otherwise. ArgumentParser's own messages keep
    /// their formatting; its usage errors exit 2 like every other input error.
    static func exit(with error: Error) -> Never {
        if isInputError(error) {
            FileHandle.standardError.write(Data("internvl: error: \(error)\n".utf8))
            Foundation.exit(2)
        }
        let code = InternVLCommand.exitCode(for: error)
        guard code == .validationFailure else { InternVLCommand.exit(withError: error) }
        // ArgumentParser's usage errors exit 64 (EX_USAGE); our contract says 2, with one line.
        let message = InternVLCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
        FileHandle.standardError.write(Data("internvl: error: \(message) (see --help)\n".utf8))
        Foundation.exit(2)
    }
}

/// A bad input discovered by the CLI itself (stdin content, option combinations): reported with exit code 2.
struct InputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
