import ArgumentParser
import Foundation
import InternVL
import Models

/// `internvl chat -m DIR`: an interactive multi-turn conversation.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk with the model over several turns; attach images with /image PATH.",
        discussion: """
            Type a question and press Enter; the reply streams as it is generated. Commands:
              /image PATH   attach an image to the next question (repeat for several)
              /reset        forget the conversation and its images
              /quit         leave (or Ctrl-D)
            Earlier rounds and their images are sent again with every question, as the reference chat() does.
            """)

    @OptionGroup var model: ModelDirectoryOptions

    @Option(help: "Replace the default system message.")
    var system: String?

    @Option(help: "Tiles per image, 1...40.")
    var maxTiles: Int?

    @Option(name: [.customShort("n"), .long], help: "Maximum new tokens per reply.")
    var maxNewTokens: Int = 1024

    @Option(help: "Sampling temperature (0 = greedy).")
    var temp: Float = 0

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let maxTiles, !(1...40).contains(maxTiles) { throw ValidationError("--max-tiles \(maxTiles) is outside 1...40") }
        guard maxNewTokens >= 1 else { throw ValidationError("-n/--max-new-tokens must be at least 1") }
    }

    func run() throws {
        let pipeline = try compute.loadPipeline(model.url)
        let session = pipeline.session(systemMessage: system, maxTiles: maxTiles)
        let settings = GenerationSettings(maxNewTokens: maxNewTokens, temperature: temp)
        let interactive = isatty(STDIN_FILENO) != 0
        var pending: [ImageInput] = []
        if interactive { print("internvl chat: /image PATH attaches an image, /reset, /quit. Ctrl-D leaves.") }
        while true {
            if interactive { FileHandle.standardOutput.write(Data("> ".utf8)) }
            guard let line = readLine() else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/quit" || text == "/exit" { break }
            if text == "/reset" {
                session.reset()
                pending = []
                print("(conversation cleared)")
                continue
            }
            if text.hasPrefix("/image ") {
                let path = String(text.dropFirst(7)).trimmingCharacters(in: .whitespaces)
                guard FileManager.default.isReadableFile(atPath: path) else {
                    print("(cannot read \(path))")
                    continue
                }
                pending.append(.file(path))
                print("(attached \(path); it goes with your next question)")
                continue
            }
            do {
                let response = try session.ask(text, images: pending, settings: settings) { delta in
                    FileHandle.standardOutput.write(Data(delta.utf8))
                }
                pending = []
                print("")
                let t = response.timings
                FileHandle.standardError.write(Data(String(format: "[%d prompt tokens, %d new in %.2f s]\n",
                                                           t.promptTokens, t.generatedTokens, t.prefill + t.decode).utf8))
            } catch {
                // A bad image or an oversized prompt fails this turn only; the conversation goes on.
                print("(error: \(error))")
                pending = []
            }
        }
    }
}
