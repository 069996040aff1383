import ArgumentParser
import COpenBLAS
import Foundation
import InternVL
import ModelFactory

/// `internvl demo`: the whole path on a model the tool makes itself, with no download.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Make a tiny random-weight model and caption the example images with it.",
        discussion: """
            Writes the tiny preset (same layout as InternVL2-8B, 2+2 layers, random weights) to --dir unless it is
            there already, then captions every JPEG/PNG in --images, printing each caption with its timings. The
            captions are gibberish (the weights are random); the path is the real one: decoding, dynamic tiling,
            InternViT, projector, InternLM2, greedy decoding. Use `internvl run -m DIR` with a real checkpoint.
            """)

    @Option(help: ArgumentHelp("Where the demo model lives.", valueName: "dir"))
    var dir: String = ".internvl-demo/tiny"

    @Option(help: ArgumentHelp("A directory of images to caption.", valueName: "dir"))
    var images: String = "Examples/images"

    @Option(name: [.customShort("n"), .long], help: "Maximum new tokens per caption.")
    var maxNewTokens: Int = 24

    @Option(help: "The question asked about each image.")
    var prompt: String = "Describe the image in one sentence."

    func run() throws {
        let model = URL(fileURLWithPath: dir, isDirectory: true)
        if !FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path) {
            print("making the tiny demo model in \(dir) ...")
            try RandomCheckpoint(preset: .tiny).write(to: model)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: images)
            .filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !files.isEmpty else { throw InputError("\(images): no .png or .jpg images to caption") }
        let pipeline = try InternVLPipeline(modelDirectory: model)
        print("captioning \(files.count) images from \(images) with \(dir) (random weights: expect gibberish)\n")
        var total = 0.0
        for file in files {
            let path = (images as NSString).appendingPathComponent(file)
            let request = ChatRequest(question: prompt, images: [.file(path)],
                                      settings: GenerationSettings(maxNewTokens: maxNewTokens))
            let response = try pipeline.respond(to: request)
            let t = response.timings
            let seconds = t.preprocess + t.vision + t.prefill + t.decode
            total += seconds
            print("\(file) (\(response.tilesPerImage.first ?? 0) tiles, \(t.promptTokens) prompt tokens)")
            print("  caption: \(response.text)")
            print(String(format: "  time: %.2f s (preprocess %.2f, vision %.2f, prefill %.2f, decode %.2f = %.0f tok/s)\n",
                         seconds, t.preprocess, t.vision, t.prefill, t.decode, t.decodeTokensPerSecond))
        }
        print(String(format: "done: %d images in %.2f s", files.count, total))
    }
}
