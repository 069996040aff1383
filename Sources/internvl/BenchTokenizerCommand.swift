import ArgumentParser
import Foundation
import Tokenizer

/// `internvl bench tokenizer -m DIR`: encoding and decoding speed of the model's tokenizer.
struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Measure tokenizer encode (MB/s, tokens/s) and decode speed (use a release build).",
        discussion: """
            Corpora: the strings of a tokenizer_cases.json (--cases, or DIR/../tokenizer_cases.json when present), \
            and a synthetic English + Chinese + code + emoji text of --synthetic-kb KiB encoded in one call. \
            Each measurement repeats until --seconds have passed and reports the median of its rounds.
            """)

    @Option(name: [.customShort("m"), .long], help: "Model directory holding tokenizer.model.")
    var modelDir: String

    @Option(help: "A tokenizer_cases.json whose \"cases[].text\" strings form the short-text corpus.")
    var cases: String?

    @Option(help: "Size of the synthetic long text in KiB.")
    var syntheticKb: Int = 1024

    @Option(help: "Minimum time per measurement in seconds.")
    var seconds: Double = 2

    func validate() throws {
        guard syntheticKb > 0 else { throw ValidationError("--synthetic-kb must be positive (got \(syntheticKb))") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive (got \(seconds))") }
    }

    func run() throws {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let tokenizer: InternLM2Tokenizer
        do {
            tokenizer = try InternLM2Tokenizer(directoryPath: modelDir)
        } catch let error as TokenizerError {
            FileHandle.standardError.write(Data("internvl bench tokenizer: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
        print("tokenizer: \(modelDir) (\(tokenizer.model.count) pieces, vocabulary \(tokenizer.vocabularySize)), "
              + "loaded in \(String(format: "%.1f", loadMs)) ms")
        #if DEBUG
        print("warning: debug build; build with -c release before trusting these numbers")
        #endif

        if let texts = try shortTexts() {
            let bytes = texts.reduce(0) { $0 + $1.utf8.count }
            measure(label: "encode \(texts.count) case strings (\(bytes) B per round)", bytes: bytes) {
                texts.reduce(0) { $0 + tokenizer.encode($1).count }
            }
        }
        let long = Self.syntheticText(kibibytes: syntheticKb)
        let longBytes = long.utf8.count
        measure(label: "encode synthetic text (\(longBytes) B, one call)", bytes: longBytes) {
            tokenizer.encode(long).count
        }
        let ids = tokenizer.encode(long)
        measure(label: "decode \(ids.count) ids (skip special)", bytes: longBytes) {
            ((try? tokenizer.decode(ids, skipSpecialTokens: true)) ?? "").isEmpty ? 0 : ids.count
        }
        measure(label: "stream-decode \(ids.count) ids one by one", bytes: longBytes) {
            var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            var produced = 0
            for id in ids { produced += ((try? detokenizer.append(id)) ?? "").utf8.count }
            produced += detokenizer.finish().utf8.count
            return produced > 0 ? ids.count : 0
        }
    }

    /// The case strings, from `--cases` or next to the model directory; nil when there are none.
    private func shortTexts() throws -> [String]? {
        let path = cases ?? URL(fileURLWithPath: modelDir).deletingLastPathComponent()
            .appendingPathComponent("tokenizer_cases.json").path
        guard FileManager.default.fileExists(atPath: path) else {
            if cases != nil {
                FileHandle.standardError.write(Data("internvl bench tokenizer: \(path): file not found\n".utf8))
                throw ExitCode(2)
            }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let entries = root["cases"] as? [[String: Any]]
        else {
            FileHandle.standardError.write(Data("internvl bench tokenizer: \(path): expected {\"cases\": [{\"text\": ...}]}\n".utf8))
            throw ExitCode(2)
        }
        let texts = entries.compactMap { $0["text"] as? String }
        return texts.isEmpty ? nil : texts
    }

    /// Runs `body` (which returns a token count) repeatedly for at least `seconds`; prints the median round.
    private func measure(label: String, bytes: Int, _ body: () -> Int) {
        var rounds: [Double] = []
        var tokens = 0
        let start = DispatchTime.now().uptimeNanoseconds
        repeat {
            let roundStart = DispatchTime.now().uptimeNanoseconds
            tokens = body()
            rounds.append(Double(DispatchTime.now().uptimeNanoseconds - roundStart) / 1e9)
        } while Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds || rounds.count < 3
        rounds.sort()
        let median = rounds[rounds.count / 2]
        let megabytes = Double(bytes) / 1_000_000 / median
        let tokensPerSecond = Double(tokens) / median
        print(String(format: "%@: %.2f MB/s, %.0f tokens/s (%d tokens, median of %d rounds, %.3f ms)",
                     label, megabytes, tokensPerSecond, tokens, rounds.count, median * 1000))
    }

    /// Deterministic mixed text: English prose, Chinese, code, whitespace runs and emoji (byte fallback).
    static func syntheticText(kibibytes: Int) -> String {
        let parts = [
            "The quick brown fox jumps over the lazy dog. ",
            "Please describe the image in detail, and don't forget the colours! ",
            "图像中有一个人站在旗帜前面，天气很好。",
            "书生·万象是一个多模态大模型，英文名叫InternVL。",
            "def f(x):\n    return x * 2 + 1\n",
            "for (int i = 0; i < n; ++i) { sum += a[i]; }\n",
            "   indented text\twith tabs   ",
            "😀 👍🏽 🐉 emoji ",
            "数字：一二三四五六七八九十 12345 + 678 = 13023\n",
        ]
        var text = ""
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        while text.utf8.count < kibibytes * 1024 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            text += parts[Int(state % UInt64(parts.count))]
        }
        return text
    }
}
