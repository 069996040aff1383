/// Turns generated ids into text as they arrive, for streaming a reply.
///
/// Feed ids one at a time with `append(_:)`; each call returns the newly final text (possibly empty). Deltas
/// never end in the middle of a character: byte-fallback pieces are held back until their UTF-8 character is
/// complete, and text that transformers' `clean_up_tokenization` might still rewrite (a space that could
/// become part of " ." or " 's") waits for the next piece. After `finish()`, the concatenation of all deltas
/// equals `tokenizer.decode(ids, skipSpecialTokens: true)` exactly; special tokens produce no text.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: InternLM2Tokenizer
    /// The ids fed so far.
    public private(set) var ids: [Int] = []

    // Parts joined with single spaces (text runs and the added tokens beyond the SentencePiece vocabulary).
    private var partCount = 0
    // The current text run.
    private var runHasTokens = false
    private var runStarted = false
    private var pendingBytes: [UInt8] = []
    private var pieceTextEmpty = true
    private var expectsLeadingSpace = true
    private var leadingSpaceSeen = false
    private var cleanup = StreamingCleanup()

    /// Creates a detokenizer for `tokenizer`'s ids.
    public init(tokenizer: InternLM2Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds one id; returns the text that became final (empty while a character or a cleanup is pending).
    /// Throws `TokenizerError.unknownTokenID` for an id outside the vocabulary.
    public mutating func append(_ id: Int) throws -> String {
        let flags = tokenizer.flags(of: id)
        guard flags.contains(.valid) else {
            throw TokenizerError.unknownTokenID(id: id, vocabularySize: tokenizer.vocabularySize)
        }
        ids.append(id)
        // Exotic vocabularies where an ordinary id carries a special token's text change the text before it
        // retroactively; for those, everything is emitted by `finish()`.
        if tokenizer.hasSpecialTextOnOrdinaryID { return "" }
        if flags.contains(.specialID) { return "" }
        var output: [Unicode.Scalar] = []
        if flags.contains(.legacy) {
            let text = tokenizer.token(for: id)!
            endRun(into: &output, keepEmpty: false)
            if partCount > 0 { output.append(" ") }
            output.append(contentsOf: text.unicodeScalars)
            partCount += 1
            return Self.string(output)
        }
        runHasTokens = true
        let model = tokenizer.model
        var pieceID = id
        var verbatim: [UInt8]? = nil
        if flags.contains(.added) {
            let text = tokenizer.token(for: id)!
            pieceID = model.id(of: text)
            if pieceID == model.unknownID && text != model.piece(for: pieceID) { verbatim = Array(text.utf8) }
        }
        var produced: [UInt8] = []
        if verbatim == nil && model.byteValues[pieceID] >= 0 {
            pendingBytes.append(UInt8(model.byteValues[pieceID]))
            drainCompleteCharacters(into: &produced)
        } else {
            if !pendingBytes.isEmpty {
                SentencePieceUTF8.appendRepairing(pendingBytes, to: &produced)
                pendingBytes.removeAll()
            }
            if leadingSpaceSeen || !pieceTextEmpty || !produced.isEmpty { expectsLeadingSpace = false }
            if let verbatim {
                produced.append(contentsOf: verbatim)
                leadingSpaceSeen = false
            } else {
                leadingSpaceSeen = model.appendSurface(ofPiece: pieceID, atStart: expectsLeadingSpace, to: &produced)
            }
        }
        if !produced.isEmpty { pieceTextEmpty = false }
        emit(cleanup.feed(Array(String(decoding: produced, as: UTF8.self).unicodeScalars)), into: &output)
        return Self.string(output)
    }

    /// Ends the stream; returns all text still held back.
    public mutating func finish() -> String {
        if tokenizer.hasSpecialTextOnOrdinaryID {
            return (try? tokenizer.decode(ids, skipSpecialTokens: true)) ?? ""
        }
        var output: [Unicode.Scalar] = []
        endRun(into: &output, keepEmpty: true)
        return Self.string(output)
    }

    /// Emits the complete characters at the front of `pendingBytes`, keeping a possibly unfinished one.
    private mutating func drainCompleteCharacters(into produced: inout [UInt8]) {
        var consumed = 0
        pendingBytes.withUnsafeBufferPointer { bytes in
            while consumed < bytes.count {
                if SentencePieceUTF8.isIncompleteCharacter(bytes, at: consumed) { break }
                let (valid, length) = SentencePieceUTF8.decodeCharacter(bytes, at: consumed)
                if valid {
                    produced.append(contentsOf: bytes[consumed..<(consumed + length)])
                } else {
                    produced.append(contentsOf: SentencePieceUTF8.replacementCharacter)
                }
                consumed += length
            }
        }
        pendingBytes.removeFirst(consumed)
    }

    /// Cleaned text of the current run goes out, preceded by the joining space when it is not the first part.
    private mutating func emit(_ scalars: [Unicode.Scalar], into output: inout [Unicode.Scalar]) {
        guard !scalars.isEmpty else { return }
        if !runStarted {
            if partCount > 0 { output.append(" ") }
            partCount += 1
            runStarted = true
        }
        output.append(contentsOf: scalars)
    }

    /// Flushes the current text run. The reference keeps an empty run only when it is the last part.
    private mutating func endRun(into output: inout [Unicode.Scalar], keepEmpty: Bool) {
        var produced: [UInt8] = []
        if !pendingBytes.isEmpty {
            SentencePieceUTF8.appendRepairing(pendingBytes, to: &produced)
            pendingBytes.removeAll()
        }
        emit(cleanup.feed(Array(String(decoding: produced, as: UTF8.self).unicodeScalars)), into: &output)
        emit(cleanup.finish(), into: &output)
        if keepEmpty && runHasTokens && !runStarted {
            if partCount > 0 { output.append(" ") }
            partCount += 1
        }
        runHasTokens = false
        runStarted = false
        pieceTextEmpty = true
        expectsLeadingSpace = true
        leadingSpaceSeen = false
        cleanup = StreamingCleanup()
    }

    private static func string(_ scalars: [Unicode.Scalar]) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
