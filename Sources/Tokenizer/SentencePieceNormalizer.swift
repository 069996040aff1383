/// Text normalization before BPE, as SentencePiece's `Normalizer::Normalize` does it for a model without a
/// precompiled character map: optional removal of extra spaces, the dummy-prefix space, and escaping of
/// spaces as U+2581 ("▁"). User-defined symbols pass through as whole units.
extension SentencePieceModel {
    /// The UTF-8 of U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]

    /// Appends the normalized form of `input` (UTF-8) to `output`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        let space = UInt8(ascii: " ")
        let settings = normalizer
        var offset = 0

        /// One normalization unit at `position`: a user-defined symbol, one character, or U+FFFD for a
        /// malformed byte; returns the bytes to emit (as a range of `input`, or nil for U+FFFD) and the
        /// number of input bytes consumed.
        func unit(at position: Int) -> (range: Range<Int>?, consumed: Int) {
            let (length, isUserDefined) = userDefinedSymbols.match(input, at: position)
            if isUserDefined { return (position..<(position + length), length) }
            let (valid, characterLength) = SentencePieceUTF8.decodeCharacter(input, at: position)
            if !valid { return (nil, 1) }
            return (position..<(position + characterLength), characterLength)
        }

        if settings.removeExtraWhitespaces {
            while offset < input.count {
                let (range, consumed) = unit(at: offset)
                guard let range, range.count == 1, input[range.lowerBound] == space else { break }
                offset += consumed
            }
        }
        if offset >= input.count { return }

        let start = output.count
        func appendWhitespace() {
            if settings.escapeWhitespaces { output.append(contentsOf: Self.spaceSymbol) } else { output.append(space) }
        }
        if !settings.treatWhitespaceAsSuffix && settings.addDummyPrefix { appendWhitespace() }

        var isPreviousSpace = settings.removeExtraWhitespaces
        while offset < input.count {
            let (range, consumed) = unit(at: offset)
            if let range {
                var first = range.lowerBound
                if isPreviousSpace {
                    while first < range.upperBound && input[first] == space { first += 1 }
                }
                if first < range.upperBound {
                    for index in first..<range.upperBound {
                        let byte = input[index]
                        if settings.escapeWhitespaces && byte == space {
                            output.append(contentsOf: Self.spaceSymbol)
                        } else {
                            output.append(byte)
                        }
                    }
                    isPreviousSpace = input[range.upperBound - 1] == space
                }
            } else {
                output.append(contentsOf: SentencePieceUTF8.replacementCharacter)
                isPreviousSpace = false
            }
            offset += consumed
            if !settings.removeExtraWhitespaces { isPreviousSpace = false }
        }

        if settings.removeExtraWhitespaces {
            let trailing: [UInt8] = settings.escapeWhitespaces ? Self.spaceSymbol : [space]
            while output.count - start >= trailing.count
                && Array(output[(output.count - trailing.count)...]) == trailing
            {
                output.removeLast(trailing.count)
            }
        }
        if settings.treatWhitespaceAsSuffix && settings.addDummyPrefix { appendWhitespace() }
    }
}
