import Foundation

/// A token added on top of the SentencePiece vocabulary (`added_tokens_decoder` in `tokenizer_config.json`,
/// or `added_tokens.json`).
public struct AddedToken: Sendable, Equatable {
    /// The token id.
    public var id: Int
    /// The token text, matched verbatim in the input.
    public var content: String
    /// Whether it is a special token (dropped by `skipSpecialTokens`).
    public var special: Bool
    /// Whether whitespace to the left of a match is removed.
    public var lstrip: Bool
    /// Whether whitespace to the right of a match is removed.
    public var rstrip: Bool
    /// Whether the token only matches as a whole word.
    public var singleWord: Bool

    /// Creates an added token.
    public init(id: Int, content: String, special: Bool, lstrip: Bool = false, rstrip: Bool = false,
                singleWord: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }
}

/// The transformers side files of a tokenizer directory: added tokens and the special-token roles.
struct TokenizerConfiguration: Sendable {
    /// Special-token attribute names of transformers' `SPECIAL_TOKENS_ATTRIBUTES`, single-token ones.
    static let singleTokenRoles = [
        "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
    ]
    /// InternLM2Tokenizer's constructor defaults.
    static let defaultRoles = ["bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"]

    /// Added-token ids must stay below this (2^24; InternVL2 uses 92553), so a corrupt file cannot make the
    /// per-id tables huge.
    static let maximumTokenID = 1 << 24

    var addedTokens: [AddedToken] = []
    /// Role name (`bos_token`, ...) to token text.
    var roles: [String: String] = [:]
    var additionalSpecialTokens: [String] = []
    var addBOSToken = true
    var addEOSToken = false

    /// Reads `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json` from `directory`;
    /// missing files fall back to InternLM2Tokenizer's defaults.
    static func load(directory: URL) throws -> TokenizerConfiguration {
        var configuration = TokenizerConfiguration()
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        let addedURL = directory.appendingPathComponent("added_tokens.json")
        let config = try readJSONObject(configURL)
        let specialMap = try readJSONObject(mapURL)

        var explicitRoles: Set<String> = []
        for (source, url) in [(specialMap, mapURL), (config, configURL)] {
            guard let source else { continue }
            for role in singleTokenRoles {
                guard let value = source[role] else { continue }
                explicitRoles.insert(role)
                configuration.roles[role] = try tokenText(value, field: role, path: url.path)
            }
            if let list = source["additional_special_tokens"] {
                guard let items = list as? [Any] else {
                    throw TokenizerError.malformedConfiguration(
                        path: url.path, reason: "field additional_special_tokens must be a list")
                }
                configuration.additionalSpecialTokens = try items.compactMap {
                    try tokenText($0, field: "additional_special_tokens", path: url.path)
                }
            }
        }
        for (role, token) in defaultRoles where !explicitRoles.contains(role) { configuration.roles[role] = token }

        if let config {
            configuration.addBOSToken = try bool(config["add_bos_token"], field: "add_bos_token", default: true,
                                                 path: configURL.path)
            configuration.addEOSToken = try bool(config["add_eos_token"], field: "add_eos_token", default: false,
                                                 path: configURL.path)
            if let decoder = config["added_tokens_decoder"] {
                configuration.addedTokens = try addedTokens(decoder, path: configURL.path)
            }
        }
        if let added = try readJSONObject(addedURL) {
            let specialTexts = Set(configuration.roles.values).union(configuration.additionalSpecialTokens)
            var knownIDs = Set(configuration.addedTokens.map(\.id))
            for (content, value) in added.sorted(by: { $0.key < $1.key }) {
                guard let id = value as? Int, id >= 0, id < maximumTokenID else {
                    throw TokenizerError.malformedConfiguration(
                        path: addedURL.path,
                        reason: "token \"\(content)\" must map to an integer id in 0..<\(maximumTokenID)")
                }
                if knownIDs.insert(id).inserted {
                    configuration.addedTokens.append(
                        AddedToken(id: id, content: content, special: specialTexts.contains(content)))
                }
            }
        }
        configuration.addedTokens.sort { $0.id < $1.id }
        return configuration
    }

    /// Parses `added_tokens_decoder`: `{"<id>": {"content": ..., "special": ..., "lstrip": ...}}`.
    private static func addedTokens(_ value: Any, path: String) throws -> [AddedToken] {
        guard let entries = value as? [String: Any] else {
            throw TokenizerError.malformedConfiguration(path: path, reason: "field added_tokens_decoder must be an object")
        }
        var tokens: [AddedToken] = []
        for (key, entry) in entries {
            guard let id = Int(key), id >= 0, id < maximumTokenID else {
                throw TokenizerError.malformedConfiguration(
                    path: path, reason: "added_tokens_decoder key \"\(key)\" is not an integer id in 0..<\(maximumTokenID)")
            }
            guard let fields = entry as? [String: Any], let content = fields["content"] as? String else {
                throw TokenizerError.malformedConfiguration(
                    path: path, reason: "added_tokens_decoder[\"\(key)\"] needs a string field \"content\"")
            }
            let field = "added_tokens_decoder[\"\(key)\"]"
            tokens.append(
                AddedToken(
                    id: id, content: content,
                    special: try bool(fields["special"], field: field + ".special", default: false, path: path),
                    lstrip: try bool(fields["lstrip"], field: field + ".lstrip", default: false, path: path),
                    rstrip: try bool(fields["rstrip"], field: field + ".rstrip", default: false, path: path),
                    singleWord: try bool(fields["single_word"], field: field + ".single_word", default: false,
                                         path: path)))
        }
        return tokens
    }

    /// A special-token value: a string, an `AddedToken` object with `content`, or null.
    private static func tokenText(_ value: Any, field: String, path: String) throws -> String? {
        if value is NSNull { return nil }
        if let text = value as? String { return text }
        if let object = value as? [String: Any], let content = object["content"] as? String { return content }
        throw TokenizerError.malformedConfiguration(
            path: path, reason: "field \(field) must be a string or an object with a string \"content\"")
    }

    private static func bool(_ value: Any?, field: String, default fallback: Bool, path: String) throws -> Bool {
        guard let value, !(value is NSNull) else { return fallback }
        guard let flag = value as? Bool else {
            throw TokenizerError.malformedConfiguration(path: path, reason: "field \(field) must be true or false")
        }
        return flag
    }

    /// Reads a JSON object file; nil when the file does not exist.
    private static func readJSONObject(_ url: URL) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: String(describing: error))
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw TokenizerError.malformedConfiguration(path: url.path, reason: "invalid JSON (\(Self.summary(error)))")
        }
        guard let dictionary = object as? [String: Any] else {
            throw TokenizerError.malformedConfiguration(path: url.path, reason: "the top level must be a JSON object")
        }
        return dictionary
    }

    private static func summary(_ error: Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}
