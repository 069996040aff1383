/// Finds the longest user-defined symbol at the start of a byte span (SentencePiece `PrefixMatcher`).
///
/// Without a match it reports the length of one UTF-8 character, so callers can walk the input symbol by
/// symbol.
struct UserDefinedSymbolMatcher: Sendable {
    /// Symbols grouped by first byte, longest first.
    private let symbolsByFirstByte: [[[UInt8]]]
    /// Whether the model has any user-defined symbol at all.
    let isEmpty: Bool

    init(symbols: [[UInt8]]) {
        var groups = [[[UInt8]]](repeating: [], count: 256)
        for symbol in symbols where !symbol.isEmpty { groups[Int(symbol[0])].append(symbol) }
        for index in groups.indices { groups[index].sort { $0.count > $1.count } }
        symbolsByFirstByte = groups
        isEmpty = symbols.isEmpty
    }

    /// The length of the symbol starting at `offset` in `text` and whether it is a user-defined symbol.
    @inline(__always)
    func match(_ text: UnsafeBufferPointer<UInt8>, at offset: Int) -> (length: Int, isUserDefined: Bool) {
        let first = text[offset]
        if !isEmpty {
            let remaining = text.count - offset
            for symbol in symbolsByFirstByte[Int(first)] where symbol.count <= remaining {
                var equal = true
                var index = 1
                while index < symbol.count {
                    if text[offset + index] != symbol[index] { equal = false; break }
                    index += 1
                }
                if equal { return (symbol.count, true) }
            }
        }
        return (min(text.count - offset, SentencePieceUTF8.characterLength(leadByte: first)), false)
    }
}
