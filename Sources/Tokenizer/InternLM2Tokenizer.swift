import Foundation

/// The InternLM2 tokenizer used by InternVL2, matching transformers 4.37.2's slow `InternLM2Tokenizer`.
///
/// Encoding splits the text on added-token strings first (each becomes its id), encodes every other fragment
/// separately with SentencePiece BPE, and prepends BOS. Decoding reproduces the reference's quirks: a space
/// before special tokens that follow text, `clean_up_tokenization` inside every text run, and single spaces
/// around added tokens whose id lies beyond the SentencePiece vocabulary.
public struct InternLM2Tokenizer: Sendable {
    /// The SentencePiece model (`tokenizer.model`).
    public let model: SentencePieceModel
    /// The added tokens, sorted by id.
    public let addedTokens: [AddedToken]
    /// The number of ids: SentencePiece pieces plus added tokens beyond them (92553 for InternVL2-8B).
    public let vocabularySize: Int
    /// The id of the begin-of-sequence token (`<s>`).
    public let bosID: Int
    /// The id of the end-of-sequence token (`</s>`).
    public let eosID: Int
    /// The id used for padding (`</s>` for InternLM2).
    public let padID: Int
    /// The id of the unknown token.
    public let unknownID: Int
    /// Whether `encode` prepends BOS by default (`add_bos_token`).
    public let addsBOS: Bool
    /// Whether `encode` appends EOS by default (`add_eos_token`).
    public let addsEOS: Bool
    /// Every special token string (bos, eos, unk, pad, ... and `additional_special_tokens`).
    public let specialTokens: Set<String>
    /// The ids of `specialTokens` (dropped when decoding with `skipSpecialTokens`).
    public let specialTokenIDs: Set<Int>

    let addedByID: [Int: AddedToken]
    let addedByContent: [String: AddedToken]
    /// Token strings that split the decoded text into separately decoded, space-joined parts.
    let legacyAddedTokens: Set<String>
    let splitter: AddedTokenSplitter
    /// Whether some id that is not special still has the text of a special token (then streaming decode
    /// cannot know the text before such a token in advance).
    let hasSpecialTextOnOrdinaryID: Bool
    /// Per-id facts the decoders need, indexed by id (`vocabularySize` entries), so decoding hashes nothing.
    let tokenFlags: [TokenFlags]

    /// What decoding needs to know about one id.
    struct TokenFlags: OptionSet, Sendable {
        let rawValue: UInt8
        /// The id exists (a SentencePiece piece or an added token).
        static let valid = TokenFlags(rawValue: 1 << 0)
        /// The id is in `specialTokenIDs`.
        static let specialID = TokenFlags(rawValue: 1 << 1)
        /// The token text is in `legacyAddedTokens`.
        static let legacy = TokenFlags(rawValue: 1 << 2)
        /// The token text is in `specialTokens`.
        static let specialText = TokenFlags(rawValue: 1 << 3)
        /// The id is an added token (its text, not its SentencePiece piece, is what gets decoded).
        static let added = TokenFlags(rawValue: 1 << 4)
    }

    /// The flags of `id`, empty (not even `.valid`) when out of range.
    @inline(__always)
    func flags(of id: Int) -> TokenFlags {
        id >= 0 && id < tokenFlags.count ? tokenFlags[id] : []
    }

    /// Loads the tokenizer of a model directory: `tokenizer.model`, plus `tokenizer_config.json`,
    /// `special_tokens_map.json` and `added_tokens.json` when present.
    public init(directory: URL) throws {
        let model = try SentencePieceModel(contentsOf: directory.appendingPathComponent("tokenizer.model"))
        let configuration = try TokenizerConfiguration.load(directory: directory)
        try self.init(model: model, configuration: configuration,
                      configurationPath: directory.appendingPathComponent("tokenizer_config.json").path)
    }

    /// Loads the tokenizer of the model directory at `path`.
    public init(directoryPath path: String) throws {
        try self.init(directory: URL(fileURLWithPath: path, isDirectory: true))
    }

    /// Builds a tokenizer from a model and explicit added tokens and special-token strings.
    public init(model: SentencePieceModel, addedTokens: [AddedToken], bosToken: String? = "<s>",
                eosToken: String? = "</s>", unknownToken: String? = "<unk>", padToken: String? = "</s>",
                additionalSpecialTokens: [String] = [], addsBOS: Bool = true, addsEOS: Bool = false) throws {
        var configuration = TokenizerConfiguration()
        configuration.addedTokens = addedTokens.sorted { $0.id < $1.id }
        configuration.roles = [:]
        configuration.roles["bos_token"] = bosToken
        configuration.roles["eos_token"] = eosToken
        configuration.roles["unk_token"] = unknownToken
        configuration.roles["pad_token"] = padToken
        configuration.additionalSpecialTokens = additionalSpecialTokens
        configuration.addBOSToken = addsBOS
        configuration.addEOSToken = addsEOS
        try self.init(model: model, configuration: configuration, configurationPath: "(in-memory configuration)")
    }

    init(model: SentencePieceModel, configuration: TokenizerConfiguration, configurationPath: String) throws {
        self.model = model
        var byID: [Int: AddedToken] = [:]
        var byContent: [String: AddedToken] = [:]
        var added = configuration.addedTokens
        // Special tokens that are not yet added tokens become added tokens (transformers does this at init).
        var specialTexts: [String] = []
        for role in TokenizerConfiguration.singleTokenRoles {
            if let text = configuration.roles[role] { specialTexts.append(text) }
        }
        specialTexts += configuration.additionalSpecialTokens
        let knownContents = Set(added.map(\.content))
        var nextID = max(model.count, (added.map(\.id).max() ?? -1) + 1)
        for text in specialTexts where !knownContents.contains(text) && !added.contains(where: { $0.content == text }) {
            let pieceID = model.id(of: text)
            let inVocabulary = pieceID != model.unknownID || text == model.piece(for: model.unknownID)
            added.append(AddedToken(id: inVocabulary ? pieceID : nextID, content: text, special: true))
            if !inVocabulary { nextID += 1 }
        }
        for token in added {
            if let existing = byID[token.id], existing.content != token.content {
                throw TokenizerError.malformedConfiguration(
                    path: configurationPath,
                    reason: "id \(token.id) is given to both \"\(existing.content)\" and \"\(token.content)\"")
            }
            byID[token.id] = token
            if byContent[token.content] == nil { byContent[token.content] = token }
        }
        addedByID = byID
        addedByContent = byContent
        addedTokens = byID.values.sorted { $0.id < $1.id }
        vocabularySize = max(model.count, (byID.keys.max() ?? -1) + 1)
        splitter = AddedTokenSplitter(tokens: addedTokens)

        func resolve(_ text: String) -> Int { byContent[text]?.id ?? model.id(of: text) }
        let special = Set(specialTexts)
        specialTokens = special
        specialTokenIDs = Set(special.map(resolve))
        let nonSpecialAdded = Set(byContent.keys).subtracting(special)
        let beyondModel = configuration.additionalSpecialTokens.filter { resolve($0) >= model.count }
        legacyAddedTokens = nonSpecialAdded.union(beyondModel)
        unknownID = configuration.roles["unk_token"].map(resolve) ?? model.unknownID
        bosID = configuration.roles["bos_token"].map(resolve) ?? model.bosID ?? 1
        eosID = configuration.roles["eos_token"].map(resolve) ?? model.eosID ?? 2
        padID = configuration.roles["pad_token"].map(resolve) ?? eosID
        addsBOS = configuration.addBOSToken
        addsEOS = configuration.addEOSToken
        var ordinaryWithSpecialText = false
        for id in 0..<model.count where !specialTokenIDs.contains(id) && byID[id] == nil {
            if special.contains(model.piece(for: id)) { ordinaryWithSpecialText = true; break }
        }
        for token in byID.values where !specialTokenIDs.contains(token.id) && special.contains(token.content) {
            ordinaryWithSpecialText = true
        }
        hasSpecialTextOnOrdinaryID = ordinaryWithSpecialText
        var flags = [TokenFlags](repeating: [], count: vocabularySize)
        for id in 0..<vocabularySize {
            let text: String
            if let added = byID[id] {
                text = added.content
                flags[id].insert(.added)
            } else if id < model.count {
                text = model.piece(for: id)
            } else {
                continue
            }
            flags[id].insert(.valid)
            if specialTokenIDs.contains(id) { flags[id].insert(.specialID) }
            if legacyAddedTokens.contains(text) { flags[id].insert(.legacy) }
            if special.contains(text) { flags[id].insert(.specialText) }
        }
        tokenFlags = flags
    }

    // MARK: - Lookups

    /// The id of a token string: an added token first, then a SentencePiece piece; nil when it is neither.
    public func id(of token: String) -> Int? {
        if let added = addedByContent[token] { return added.id }
        let id = model.id(of: token)
        if id == model.unknownID && token != model.piece(for: id) { return nil }
        return id
    }

    /// The token string of `id` (the added token's text, or the SentencePiece piece), or nil when out of range.
    public func token(for id: Int) -> String? {
        if let added = addedByID[id] { return added.content }
        guard id >= 0 && id < model.count else { return nil }
        return model.piece(for: id)
    }

    // MARK: - Encoding

    /// The token strings of `text` (no BOS), as transformers' `tokenize` returns them.
    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        for fragment in splitter.split(text) {
            switch fragment {
            case .token(let token): tokens.append(token.content)
            case .text(let text): tokens += model.encodeToPieces(text)
            }
        }
        return tokens
    }

    /// Encodes `text` into ids; `addBOS`/`addEOS` default to the tokenizer's configuration (BOS only).
    public func encode(_ text: String, addBOS: Bool? = nil, addEOS: Bool? = nil) -> [Int] {
        var ids: [Int] = []
        if addBOS ?? addsBOS { ids.append(bosID) }
        for fragment in splitter.split(text) {
            switch fragment {
            case .token(let token): ids.append(token.id)
            case .text(let text): model.encode(text, into: &ids)
            }
        }
        if addEOS ?? addsEOS { ids.append(eosID) }
        return ids
    }

    // MARK: - Decoding

    /// Decodes ids like transformers' `tokenizer.decode(ids, skip_special_tokens:)` (4.37.2, slow tokenizer).
    /// Throws `TokenizerError.unknownTokenID` for an id outside the vocabulary.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
        var parts: [String] = []
        var run: [Int] = []
        for id in ids {
            let flags = flags(of: id)
            guard flags.contains(.valid) else {
                throw TokenizerError.unknownTokenID(id: id, vocabularySize: vocabularySize)
            }
            if skipSpecialTokens && flags.contains(.specialID) { continue }
            if flags.contains(.legacy) {
                if !run.isEmpty {
                    let decoded = convertTokensToString(run)
                    if !decoded.isEmpty { parts.append(decoded) }
                    run.removeAll()
                }
                parts.append(token(for: id)!)
            } else {
                run.append(id)
            }
        }
        if !run.isEmpty { parts.append(convertTokensToString(run)) }
        return parts.joined(separator: " ")
    }

    /// `InternLM2Tokenizer.convert_tokens_to_string`: special tokens are copied verbatim with a space before
    /// the text that precedes them, other pieces go through SentencePiece, then `clean_up_tokenization`.
    /// (The method's prefix-space helper always adds one character that its final `[1:]` removes again.)
    func convertTokensToString(_ ids: [Int]) -> String {
        var output = ""
        var pending: [Int] = []
        var previousWasSpecial = false
        for id in ids {
            if tokenFlags[id].contains(.specialText) {
                if !previousWasSpecial { output += " " }
                output += decodePieces(pending) + token(for: id)!
                previousWasSpecial = true
                pending.removeAll()
            } else {
                pending.append(id)
                previousWasSpecial = false
            }
        }
        output += decodePieces(pending)
        return PythonStringSemantics.cleanUpTokenization(output)
    }

    /// SentencePiece decoding of token ids (added tokens below the model size go by their text, as the
    /// reference passes token strings to `sp_model.decode`).
    func decodePieces(_ ids: [Int]) -> String {
        guard !ids.isEmpty else { return "" }
        if ids.allSatisfy({ !tokenFlags[$0].contains(.added) }) { return model.decode(ids) }
        return model.decode(pieces: ids.map { token(for: $0)! })
    }
}
