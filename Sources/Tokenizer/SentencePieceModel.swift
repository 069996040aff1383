import Foundation
import SwiftProtobuf

/// A SentencePiece BPE model (`tokenizer.model`), loaded from its protobuf and ready to encode and decode.
///
/// It follows SentencePiece 0.1.99: the model must be BPE; piece types (normal, unknown, control,
/// user-defined, byte, unused) keep their meaning; the normalizer flags `add_dummy_prefix`,
/// `remove_extra_whitespaces` and `escape_whitespaces` are honoured; `byte_fallback` turns unknown characters
/// into `<0xXX>` byte pieces. Only the `identity` normalization (an empty precompiled character map) is
/// supported, which is what InternLM2 uses.
public struct SentencePieceModel: Sendable {
    /// The kind of a vocabulary entry, as declared in the model file.
    public enum PieceType: Sendable, Equatable {
        /// An ordinary piece, produced by BPE merges.
        case normal
        /// The unknown piece (`<unk>`); exactly one per model.
        case unknown
        /// A control symbol such as `<s>`; never produced from text and decoded as nothing.
        case control
        /// A user-defined symbol, always matched as a whole in the input.
        case userDefined
        /// A byte piece `<0xXX>` used by byte fallback.
        case byte
        /// A piece present in the vocabulary but never emitted (re-split into the pieces it was merged from).
        case unused
    }

    /// Normalizer settings read from the model's `normalizer_spec`.
    public struct NormalizerSettings: Sendable, Equatable {
        /// The normalization rule name (`identity` for InternLM2).
        public var name: String
        /// Prepend one whitespace to every non-empty input.
        public var addDummyPrefix: Bool
        /// Drop leading and trailing spaces and collapse runs of spaces.
        public var removeExtraWhitespaces: Bool
        /// Replace spaces by U+2581 ("▁").
        public var escapeWhitespaces: Bool
        /// Put the dummy whitespace after instead of before the text (trainer option).
        public var treatWhitespaceAsSuffix: Bool
    }

    /// The file the model was read from (used in error messages).
    public let path: String
    /// The normalizer settings.
    public let normalizer: NormalizerSettings
    /// Whether unknown characters are emitted as UTF-8 byte pieces instead of the unknown id.
    public let byteFallback: Bool
    /// The id of the unknown piece.
    public let unknownID: Int
    /// The begin-of-sentence id declared by the trainer spec, if any.
    public let bosID: Int?
    /// The end-of-sentence id declared by the trainer spec, if any.
    public let eosID: Int?
    /// The padding id declared by the trainer spec, if any.
    public let padID: Int?

    let pieceStrings: [String]
    let pieceUTF8: [[UInt8]]
    let scores: [Float]
    let types: [PieceType]
    /// Pieces BPE may produce by merging (normal, user-defined and unused), keyed by their UTF-8.
    let mergeablePieces: PieceLookupTable
    /// Control, unknown and byte pieces, keyed by their UTF-8 (looked up first, like SentencePiece).
    let reservedPieces: PieceLookupTable
    /// The piece id of each byte value, for byte fallback (all -1 when the model has no byte pieces).
    let byteIDs: [Int32]
    /// The byte value of each piece id that is a byte piece, else -1.
    let byteValues: [Int16]
    /// Longest-match table of user-defined symbols.
    let userDefinedSymbols: UserDefinedSymbolMatcher
    /// Whether any piece is of type `unused` (enables re-segmentation bookkeeping in BPE).
    let hasUnusedPieces: Bool
    /// What the decoder prints for the unknown piece (`trainer_spec.unk_surface`).
    let unknownSurface: [UInt8]

    /// The number of pieces in the model.
    public var count: Int { pieceStrings.count }

    /// Loads `tokenizer.model` from `url`.
    public init(contentsOf url: URL) throws {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.fileNotFound(path: path) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: String(describing: error))
        }
        try self.init(serializedData: data, path: path)
    }

    /// Parses a serialized `ModelProto`; `path` is only used to name the source in errors.
    public init(serializedData data: Data, path: String) throws {
        let proto: Sentencepiece_ModelProto
        do {
            proto = try Sentencepiece_ModelProto(serializedBytes: data)
        } catch {
            throw TokenizerError.malformedModel(
                path: path, reason: "protobuf decoding failed (\(error)); the file is truncated or corrupt")
        }
        try self.init(proto: proto, path: path)
    }

    /// Builds the model from an already decoded `ModelProto`.
    public init(proto: Sentencepiece_ModelProto, path: String) throws {
        self.path = path
        guard !proto.pieces.isEmpty else {
            throw TokenizerError.malformedModel(path: path, reason: "the model has zero pieces")
        }
        guard proto.hasTrainerSpec else {
            throw TokenizerError.malformedModel(path: path, reason: "trainer_spec is missing (truncated file?)")
        }
        let trainer = proto.trainerSpec
        guard trainer.modelType == .bpe else {
            throw TokenizerError.unsupportedModel(
                path: path, reason: "model_type is \(Self.name(of: trainer.modelType)); only BPE is supported")
        }
        let spec = proto.normalizerSpec
        if !spec.precompiledCharsmap.isEmpty {
            let name = spec.name.isEmpty ? "(unnamed)" : spec.name
            throw TokenizerError.unsupportedModel(
                path: path,
                reason: "normalizer \"\(name)\" has a precompiled character map; only identity normalization is supported")
        }
        if proto.hasDenormalizerSpec && !proto.denormalizerSpec.precompiledCharsmap.isEmpty {
            let name = proto.denormalizerSpec.name.isEmpty ? "(unnamed)" : proto.denormalizerSpec.name
            throw TokenizerError.unsupportedModel(
                path: path, reason: "denormalizer \"\(name)\" is not supported")
        }
        normalizer = NormalizerSettings(
            name: spec.name, addDummyPrefix: spec.addDummyPrefix,
            removeExtraWhitespaces: spec.removeExtraWhitespaces, escapeWhitespaces: spec.escapeWhitespaces,
            treatWhitespaceAsSuffix: trainer.treatWhitespaceAsSuffix)
        byteFallback = trainer.byteFallback
        unknownSurface = Array(trainer.unkSurface.utf8)

        let count = proto.pieces.count
        var strings = [String](), utf8 = [[UInt8]](), scores = [Float](), types = [PieceType]()
        strings.reserveCapacity(count); utf8.reserveCapacity(count)
        scores.reserveCapacity(count); types.reserveCapacity(count)
        var mergeable = PieceLookupTable(capacity: count)
        var reserved = PieceLookupTable(capacity: 512)
        var byteIDs = [Int32](repeating: -1, count: 256)
        var byteValues = [Int16](repeating: -1, count: count)
        var userDefined: [[UInt8]] = []
        var unknownID = -1
        var hasUnused = false
        for (index, entry) in proto.pieces.enumerated() {
            let bytes = Array(entry.piece.utf8)
            guard !bytes.isEmpty else {
                throw TokenizerError.malformedModel(path: path, reason: "piece \(index) is empty")
            }
            let type: PieceType
            switch entry.type {
            case .normal: type = .normal
            case .unknown: type = .unknown
            case .control: type = .control
            case .userDefined: type = .userDefined
            case .byte: type = .byte
            case .unused: type = .unused
            }
            let isMergeable = type == .normal || type == .userDefined || type == .unused
            let inserted = isMergeable
                ? mergeable.insert(bytes, value: Int32(index)) : reserved.insert(bytes, value: Int32(index))
            guard inserted else {
                throw TokenizerError.malformedModel(
                    path: path, reason: "piece \(index) \"\(entry.piece)\" is already defined")
            }
            switch type {
            case .userDefined:
                userDefined.append(bytes)
            case .unknown:
                guard unknownID < 0 else {
                    throw TokenizerError.malformedModel(
                        path: path, reason: "piece \(index) is a second unknown piece (first is \(unknownID))")
                }
                unknownID = index
            case .byte:
                guard trainer.byteFallback else {
                    throw TokenizerError.malformedModel(
                        path: path, reason: "byte piece \"\(entry.piece)\" found although byte_fallback is false")
                }
                guard let value = Self.byteValue(ofPiece: entry.piece) else {
                    throw TokenizerError.malformedModel(
                        path: path, reason: "byte piece \(index) \"\(entry.piece)\" is not of the form <0xXX>")
                }
                byteIDs[Int(value)] = Int32(index)
                byteValues[index] = Int16(value)
            case .unused:
                hasUnused = true
            case .normal, .control:
                break
            }
            strings.append(entry.piece)
            utf8.append(bytes)
            scores.append(entry.score)
            types.append(type)
        }
        guard unknownID >= 0 else {
            throw TokenizerError.malformedModel(path: path, reason: "no piece has type UNKNOWN")
        }
        if trainer.byteFallback, let missing = byteIDs.firstIndex(of: -1) {
            throw TokenizerError.malformedModel(
                path: path,
                reason: String(format: "byte_fallback is true but byte piece <0x%02X> is missing", missing))
        }
        self.unknownID = unknownID
        pieceStrings = strings
        pieceUTF8 = utf8
        self.scores = scores
        self.types = types
        mergeablePieces = mergeable
        reservedPieces = reserved
        self.byteIDs = byteIDs
        self.byteValues = byteValues
        userDefinedSymbols = UserDefinedSymbolMatcher(symbols: userDefined)
        hasUnusedPieces = hasUnused
        func declared(_ id: Int32) -> Int? { id >= 0 && Int(id) < count ? Int(id) : nil }
        bosID = declared(trainer.bosID)
        eosID = declared(trainer.eosID)
        padID = declared(trainer.padID)
    }

    /// The piece string of `id` (precondition: `0 <= id < count`).
    public func piece(for id: Int) -> String { pieceStrings[id] }

    /// The type of piece `id` (precondition: `0 <= id < count`).
    public func type(of id: Int) -> PieceType { types[id] }

    /// The score of piece `id` (precondition: `0 <= id < count`).
    public func score(of id: Int) -> Float { scores[id] }

    /// The id of a piece string, or the unknown id when it is not in the vocabulary (SentencePiece `PieceToId`).
    public func id(of piece: String) -> Int {
        var piece = piece
        return piece.withUTF8 { pieceID(utf8: $0) }
    }

    /// `PieceToId` on raw UTF-8: control/unknown/byte pieces first, then the others, else the unknown id.
    func pieceID(utf8: UnsafeBufferPointer<UInt8>) -> Int {
        if let id = reservedPieces.lookup(utf8) { return Int(id) }
        if let id = mergeablePieces.lookup(utf8) { return Int(id) }
        return unknownID
    }

    /// Parses `<0xXX>` into its byte value.
    static func byteValue(ofPiece piece: String) -> UInt8? {
        let bytes = Array(piece.utf8)
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "<"), bytes[1] == UInt8(ascii: "0"),
              bytes[2] == UInt8(ascii: "x"), bytes[5] == UInt8(ascii: ">")
        else { return nil }
        return UInt8(String(decoding: bytes[3...4], as: UTF8.self), radix: 16)
    }

    private static func name(of type: Sentencepiece_TrainerSpec.ModelType) -> String {
        switch type {
        case .unigram: return "UNIGRAM"
        case .bpe: return "BPE"
        case .word: return "WORD"
        case .char: return "CHAR"
        }
    }
}
