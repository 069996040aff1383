/// An error of the model layer: bad input shapes, token/feature count mismatches, a full KV cache,
/// or a checkpoint tensor set that does not match the configuration.
///
/// `description` is one line naming the offending input, field or limit.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// An input array has the wrong size or shape; `what` names it.
    case badShape(what: String, expected: String, got: String)
    /// The number of `<IMG_CONTEXT>` positions differs from the number of image-embedding rows.
    case imageTokenCountMismatch(contextTokens: Int, embeddingRows: Int)
    /// A token id outside `0..<vocabularySize`.
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    /// The KV cache cannot hold `requested` positions.
    case cacheFull(capacity: Int, requested: Int)
    /// The stage does not hold the part asked for (embeddings or the output head).
    case stageLacks(part: String, layers: Range<Int>)
    /// The checkpoint holds tensors the model did not use.
    case unusedTensors(file: String, names: [String])
    /// A configuration value this build does not implement.
    case unsupported(field: String, value: String)
    /// A generation or sampling parameter is out of range.
    case badParameter(name: String, value: String, rule: String)

    public var description: String {
        switch self {
        case let .badShape(what, expected, got):
            return "\(what): expected \(expected), got \(got)"
        case let .imageTokenCountMismatch(contextTokens, embeddingRows):
            return "image splice: the prompt has \(contextTokens) <IMG_CONTEXT> tokens but \(embeddingRows) image-embedding rows were given (counts must match exactly)"
        case let .tokenOutOfRange(id, vocabularySize):
            return "token id \(id) is outside the vocabulary 0..<\(vocabularySize)"
        case let .cacheFull(capacity, requested):
            return "KV cache: \(requested) positions requested, capacity is \(capacity)"
        case let .stageLacks(part, layers):
            return "decoder stage for layers \(layers.lowerBound)..<\(layers.upperBound) holds no \(part)"
        case let .unusedTensors(file, names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "\(file): \(names.count) stored tensor(s) not used by the model: \(shown)\(names.count > 5 ? ", ..." : "")"
        case let .unsupported(field, value):
            return "config field '\(field)' = \(value) is not implemented by this build"
        case let .badParameter(name, value, rule):
            return "generation parameter \(name) = \(value): \(rule)"
        }
    }
}
