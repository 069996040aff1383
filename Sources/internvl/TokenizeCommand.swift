import ArgumentParser
import Foundation
import Tokenizer

/// `internvl tokenize -m DIR`: JSON Lines in (one JSON string per line), JSON Lines out
/// (`{"ids": [...], "text": "..."}`: the ids without BOS, and their decode with special tokens kept).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize JSON-string lines from stdin with a model's tokenizer.",
        discussion: """
            Each stdin line must be a JSON string. Each output line is {"ids": [...], "text": "..."}: the ids \
            without BOS (special-token strings become special tokens) and their decode with special tokens kept. \
            A line that is not valid UTF-8 or not a JSON string stops the command with exit code 2.
            """)

    @Option(name: [.customShort("m"), .long], help: "Model directory holding tokenizer.model and tokenizer_config.json.")
    var modelDir: String

    func run() throws {
        let tokenizer: InternLM2Tokenizer
        do {
            tokenizer = try InternLM2Tokenizer(directoryPath: modelDir)
        } catch let error as TokenizerError {
            Self.printError(error.description)
            throw ExitCode(2)
        }
        var lineNumber = 0
        var output = ""
        func handle(_ line: ArraySlice<UInt8>) throws {
            lineNumber += 1
            guard let text = String(validating: line, as: UTF8.self) else {
                Self.printError("stdin line \(lineNumber): invalid UTF-8")
                throw ExitCode(2)
            }
            let value: String
            do {
                value = try JSONStringCodec.parseString(text)
            } catch {
                Self.printError("stdin line \(lineNumber): not a JSON string: \(error)")
                throw ExitCode(2)
            }
            let ids = tokenizer.encode(value, addBOS: false, addEOS: false)
            let decoded = try tokenizer.decode(ids)
            output += "{\"ids\": [" + ids.map(String.init).joined(separator: ", ") + "], \"text\": "
            JSONStringCodec.appendQuoted(decoded, to: &output)
            output += "}\n"
        }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        defer { Self.write(&output) }
        while true {
            let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                Self.printError("stdin: read failed (errno \(errno))")
                throw ExitCode(1)
            }
            if count == 0 { break }
            pending.append(contentsOf: chunk[0..<count])
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try handle(pending[start..<newline])
                start = newline + 1
            }
            pending.removeFirst(start)
            Self.write(&output)
        }
        if !pending.isEmpty { try handle(pending[...]) }
    }

    private static func write(_ output: inout String) {
        guard !output.isEmpty else { return }
        FileHandle.standardOutput.write(Data(output.utf8))
        output = ""
    }

    private static func printError(_ message: String) {
        FileHandle.standardError.write(Data("internvl tokenize: \(message)\n".utf8))
    }
}
