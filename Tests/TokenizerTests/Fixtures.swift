import Foundation
import Tokenizer

/// Paths and decoded JSON of the golden fixtures in `Tests/Fixtures/internvl2-tiny`.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/internvl2-tiny")
    static let modelDirectory = root.appendingPathComponent("model")
    static let dummyPrefixDirectory = root.appendingPathComponent("tokenizer_variants/add_dummy_prefix")

    /// One string of `tokenizer_cases.json` with everything the reference computed from it.
    struct TokenizerCase: Decodable {
        let text: String
        let tokens: [String]
        let input_ids: [Int]
        let ids_no_bos: [Int]
        let decode: String
        let decode_skip_special: String
        let decode_no_bos: String
        let decode_no_bos_skip_special: String
    }

    /// The reference decode of one id on its own.
    struct SingleIDDecode: Decodable {
        let id: Int
        let token: String
        let decode: String
        let decode_skip_special: String
    }

    struct TokenizerCasesFile: Decodable {
        let cases: [TokenizerCase]
        /// Present in the main fixture only (the variant file has `cases` alone).
        let single_id_decodes: [SingleIDDecode]?
    }

    static func tokenizerCases(in directory: URL) throws -> TokenizerCasesFile {
        let data = try Data(contentsOf: directory.appendingPathComponent("tokenizer_cases.json"))
        return try JSONDecoder().decode(TokenizerCasesFile.self, from: data)
    }

    /// The main fixture's `tokenizer_cases.json` (at the fixture root, next to `model/`).
    static func mainTokenizerCases() throws -> TokenizerCasesFile { try tokenizerCases(in: root) }

    /// The variant's `tokenizer_cases.json` (inside its own folder).
    static func dummyPrefixTokenizerCases() throws -> TokenizerCasesFile { try tokenizerCases(in: dummyPrefixDirectory) }

    static func mainTokenizer() throws -> InternLM2Tokenizer { try InternLM2Tokenizer(directory: modelDirectory) }

    static func dummyPrefixTokenizer() throws -> InternLM2Tokenizer {
        try InternLM2Tokenizer(directory: dummyPrefixDirectory)
    }

    /// `manifest.json` as a JSON object. The file is Python `json` output and holds bare `NaN` numbers (in the
    /// float64 noise-floor table), which strict JSON parsers reject: they are read as null.
    static func manifest() throws -> [String: Any] {
        let raw = try String(contentsOf: root.appendingPathComponent("manifest.json"), encoding: .utf8)
        let strict = raw.replacingOccurrences(of: ": NaN", with: ": null")
        return try JSONSerialization.jsonObject(with: Data(strict.utf8)) as! [String: Any]
    }

    /// A fresh empty temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenizer-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
