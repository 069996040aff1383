/// UTF-8 scanning exactly as SentencePiece does it (`util.cc`), which differs from Swift's own decoding:
/// every byte that does not start a complete, valid character becomes one U+FFFD on its own (Swift replaces
/// a maximal invalid subsequence with one U+FFFD).
enum SentencePieceUTF8 {
    /// The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
    static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// The character length implied by a lead byte (SentencePiece `OneCharLen`): 1 for ASCII and stray
    /// continuation bytes, 2, 3 or 4 for multi-byte leads.
    @inline(__always)
    static func characterLength(leadByte: UInt8) -> Int {
        switch leadByte >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    @inline(__always)
    private static func isTrail(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }

    @inline(__always)
    private static func isValidCodePoint(_ value: UInt32) -> Bool {
        value < 0xD800 || (value >= 0xE000 && value <= 0x10FFFF)
    }

    /// Decodes one character of `bytes` starting at `offset` (SentencePiece `IsValidDecodeUTF8`).
    /// Returns whether it is valid and how many bytes it covers (always 1 when invalid).
    static func decodeCharacter(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> (valid: Bool, length: Int) {
        let available = bytes.count - offset
        let b0 = bytes[offset]
        if b0 < 0x80 { return (true, 1) }
        if available >= 2 && b0 & 0xE0 == 0xC0 {
            let b1 = bytes[offset + 1]
            let value = UInt32(b0 & 0x1F) << 6 | UInt32(b1 & 0x3F)
            if isTrail(b1) && value >= 0x80 && isValidCodePoint(value) { return (true, 2) }
        } else if available >= 3 && b0 & 0xF0 == 0xE0 {
            let b1 = bytes[offset + 1], b2 = bytes[offset + 2]
            let value = UInt32(b0 & 0x0F) << 12 | UInt32(b1 & 0x3F) << 6 | UInt32(b2 & 0x3F)
            if isTrail(b1) && isTrail(b2) && value >= 0x800 && isValidCodePoint(value) { return (true, 3) }
        } else if available >= 4 && b0 & 0xF8 == 0xF0 {
            let b1 = bytes[offset + 1], b2 = bytes[offset + 2], b3 = bytes[offset + 3]
            let value = UInt32(b0 & 0x07) << 18 | UInt32(b1 & 0x3F) << 12 | UInt32(b2 & 0x3F) << 6 | UInt32(b3 & 0x3F)
            if isTrail(b1) && isTrail(b2) && isTrail(b3) && value >= 0x10000 && isValidCodePoint(value) {
                return (true, 4)
            }
        }
        return (false, 1)
    }

    /// Whether the bytes from `offset` to the end are a proper prefix of some character, that is whether
    /// appending bytes could still turn what is now an invalid byte into a valid character.
    static func isIncompleteCharacter(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        let available = bytes.count - offset
        let b0 = bytes[offset]
        let needed: Int
        if b0 & 0xE0 == 0xC0 { needed = 2 } else if b0 & 0xF0 == 0xE0 { needed = 3 } else if b0 & 0xF8 == 0xF0 {
            needed = 4
        } else {
            return false
        }
        guard available < needed else { return false }
        var index = offset + 1
        while index < bytes.count {
            if !isTrail(bytes[index]) { return false }
            index += 1
        }
        return true
    }

    /// Appends `bytes` to `output`, replacing every byte that does not begin a valid character with U+FFFD,
    /// exactly as SentencePiece renders a run of byte pieces.
    static func appendRepairing(_ bytes: [UInt8], to output: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let (valid, length) = decodeCharacter(buffer, at: offset)
                if valid {
                    output.append(contentsOf: buffer[offset..<(offset + length)])
                } else {
                    output.append(contentsOf: replacementCharacter)
                }
                offset += length
            }
        }
    }
}
