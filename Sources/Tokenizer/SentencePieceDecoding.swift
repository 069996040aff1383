/// SentencePiece decoding (`SentencePieceProcessor::Decode`, version 0.1.99): control pieces vanish, runs of
/// byte pieces become UTF-8 (every byte that does not start a valid character becomes U+FFFD), "▁" becomes a
/// space, and the first piece's leading "▁" is dropped only when the model adds a dummy prefix or removes
/// extra whitespace.
extension SentencePieceModel {
    /// Decodes piece ids into text (precondition: every id is in `0..<count`).
    public func decode(_ ids: [Int]) -> String {
        let bytes = decodeToUTF8(count: ids.count) { (ids[$0], nil) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes piece strings into text, as the Python API does for a list of `str`: a string that is not in
    /// the vocabulary is reproduced verbatim.
    public func decode(pieces: [String]) -> String {
        let resolved = pieces.map { piece -> (Int, [UInt8]?) in
            let id = id(of: piece)
            return (id, id == unknownID && piece != pieceStrings[unknownID] ? Array(piece.utf8) : nil)
        }
        let bytes = decodeToUTF8(count: resolved.count) { resolved[$0] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The decoding loop over `count` pieces; `item(i)` gives the id of piece `i` and, for a string that maps
    /// to the unknown id without being `<unk>` itself, the verbatim text to print.
    func decodeToUTF8(count: Int, item: (Int) -> (id: Int, verbatim: [UInt8]?)) -> [UInt8] {
        var text: [UInt8] = []
        var pendingBytes: [UInt8] = []
        var expectsLeadingSpace = true
        var leadingSpaceSeen = false
        for index in 0..<count {
            let (id, verbatim) = item(index)
            if verbatim == nil, byteValues[id] >= 0 {
                pendingBytes.append(UInt8(byteValues[id]))
                continue
            }
            if !pendingBytes.isEmpty {
                SentencePieceUTF8.appendRepairing(pendingBytes, to: &text)
                pendingBytes.removeAll(keepingCapacity: true)
            }
            if leadingSpaceSeen || !text.isEmpty { expectsLeadingSpace = false }
            if let verbatim {
                text.append(contentsOf: verbatim)
                leadingSpaceSeen = false
            } else {
                leadingSpaceSeen = appendSurface(ofPiece: id, atStart: expectsLeadingSpace, to: &text)
            }
        }
        if !pendingBytes.isEmpty { SentencePieceUTF8.appendRepairing(pendingBytes, to: &text) }
        return text
    }

    /// Appends what one non-byte piece prints; returns whether it consumed the sentence's leading "▁"
    /// (SentencePiece `DecodeSentencePiece`).
    func appendSurface(ofPiece id: Int, atStart: Bool, to text: inout [UInt8]) -> Bool {
        switch types[id] {
        case .control:
            return false
        case .unknown:
            text.append(contentsOf: unknownSurface)
            return false
        default:
            break
        }
        let piece = pieceUTF8[id]
        var start = 0
        var consumedLeadingSpace = false
        if atStart && (normalizer.addDummyPrefix || normalizer.removeExtraWhitespaces) {
            if piece.count >= 3 && piece[0] == 0xE2 && piece[1] == 0x96 && piece[2] == 0x81 {
                start = 3
                consumedLeadingSpace = true
            }
            if normalizer.removeExtraWhitespaces { consumedLeadingSpace = false }
        }
        var index = start
        while index < piece.count {
            if index + 2 < piece.count && piece[index] == 0xE2 && piece[index + 1] == 0x96 && piece[index + 2] == 0x81 {
                text.append(UInt8(ascii: " "))
                index += 3
            } else {
                text.append(piece[index])
                index += 1
            }
        }
        return consumedLeadingSpace
    }
}
