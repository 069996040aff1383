import Foundation

/// Everything that can go wrong while loading or using a tokenizer.
///
/// Each case renders as one line that names the file, field or limit involved, so that a CLI can print
/// `description` to stderr as is.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A required file does not exist (or cannot be read).
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// `tokenizer.model` is not a valid SentencePiece protobuf (truncated, corrupt, or another format).
    case malformedModel(path: String, reason: String)
    /// `tokenizer.model` is well-formed but uses a feature this implementation does not provide.
    case unsupportedModel(path: String, reason: String)
    /// A JSON side file (`tokenizer_config.json`, `added_tokens.json`, ...) is malformed.
    case malformedConfiguration(path: String, reason: String)
    /// A token id outside the vocabulary was given to the decoder.
    case unknownTokenID(id: Int, vocabularySize: Int)
    /// A prompt could not be built (for example more images than `<image>` placeholders could hold).
    case invalidPrompt(reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read file: \(reason)"
        case .malformedModel(let path, let reason):
            return "\(path): not a valid SentencePiece model: \(reason)"
        case .unsupportedModel(let path, let reason):
            return "\(path): unsupported SentencePiece model: \(reason)"
        case .malformedConfiguration(let path, let reason):
            return "\(path): malformed tokenizer configuration: \(reason)"
        case .unknownTokenID(let id, let vocabularySize):
            return "token id \(id) is outside the vocabulary (size \(vocabularySize))"
        case .invalidPrompt(let reason):
            return "cannot build prompt: \(reason)"
        }
    }
}

extension TokenizerError: LocalizedError {
    public var errorDescription: String? { description }
}
