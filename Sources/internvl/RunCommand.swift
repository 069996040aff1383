import ArgumentParser
import Cluster
import Foundation
import InternVL
import Models
import Wire

/// `internvl run`: one question about images, a video or text, answered in this process.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Answer one question (with images, a video or text only) in this process or on a cluster.",
        discussion: """
            The prompt follows the reference chat(): <image> placeholders in the prompt are expanded in order, one per
            image; with one image and no placeholder "<image>\\n" is prepended; with several images and no placeholder
            "Image-1: <image>\\nImage-2: <image>\\n..." is prepended. Temperature 0 (the default) or --greedy decodes
            greedily, as the model card does.
            Examples:
              internvl run -m MODEL --image cat.jpg -p "Describe the image."
              internvl run -m MODEL --image a.png --image b.png -p "What differs?" --json
              internvl run -m MODEL --video clip.mp4 --frames 8 -p "What happens?"
              internvl run -c cluster.yaml --image cat.jpg -p "Describe the image." --json
            With -c the request goes to the running cluster's coordinator (coordinator.clients) and the answer has the
            same JSON; -m is then not needed.
            """)

    @Option(name: [.customShort("m"), .long], help: ArgumentHelp(
        "Model directory (config.json, *.safetensors, tokenizer.model).", valueName: "dir"))
    var modelDir: String?

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp(
        "Send the request to the cluster described by this file instead of running the model here.", valueName: "cluster.yaml"))
    var cluster: String?

    @Option(help: "Seconds to wait for the cluster's answer (with -c); exit code 1 when it does not come.")
    var timeout: Int = 600

    @Option(help: ArgumentHelp("With -c: interactive (scheduled first) or batch (fills what interactive work leaves).",
                               valueName: "interactive|batch"))
    var priority: String = "interactive"

    @Option(name: [.customShort("p"), .long], help: "The question.")
    var prompt: String

    @Option(name: .customLong("image"), help: ArgumentHelp("An image (JPEG or PNG); repeat for several.", valueName: "path"))
    var images: [String] = []

    @Option(help: ArgumentHelp("A video (MP4, WebM, AVI, ...); frames are sampled as the model card's load_video does.",
                               valueName: "path"))
    var video: String?

    @Option(help: "Frames to sample from --video (one tile each, FrameN: <image> lines before the question).")
    var frames: Int = 8

    @Option(help: "Tiles per image, 1...40 (default: the model's max_dynamic_patch, 12 for InternVL2).")
    var maxTiles: Int?

    @Flag(help: "Put all images' tiles into one <img> block instead of Image-N: blocks.")
    var combineImages = false

    @Option(help: "Replace the default system message.")
    var system: String?

    @Option(name: [.customShort("n"), .long], help: "Maximum new tokens.")
    var maxNewTokens: Int = 1024

    @Option(help: "Sampling temperature (0 = greedy).")
    var temp: Float = 0

    @Option(help: "Nucleus sampling mass (1 = off).")
    var topP: Float = 1

    @Option(help: "Sample from the K most likely tokens (0 = off).")
    var topK: Int = 0

    @Option(help: "Penalty for tokens already present (1 = off).")
    var repetitionPenalty: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(help: "Greedy decoding (same as --temp 0).")
    var greedy = false

    @Flag(help: "Print one JSON object: prompt_ids, ids, text, timings.")
    var json = false

    @OptionGroup var compute: ComputeOptions

    @Option(help: "Largest image in pixels (guards against decompression bombs).")
    var maxImagePixels: Int = 40_000_000

    @Option(help: "Largest prompt in tokens, images included.")
    var maxPromptTokens: Int = 8192

    func validate() throws {
        if cluster == nil {
            guard let modelDir else { throw ValidationError("give -m/--model-dir (or -c/--cluster)") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: modelDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("model directory '\(modelDir)' does not exist")
            }
        } else {
            guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1") }
            guard ["interactive", "batch"].contains(priority) else {
                throw ValidationError("--priority '\(priority)' is not one of interactive, batch")
            }
        }
        if let maxTiles, !(1...40).contains(maxTiles) { throw ValidationError("--max-tiles \(maxTiles) is outside 1...40") }
        guard maxNewTokens >= 1 else { throw ValidationError("-n/--max-new-tokens must be at least 1") }
        if video != nil && !images.isEmpty { throw ValidationError("give --image or --video, not both") }
        guard (1...256).contains(frames) else { throw ValidationError("--frames \(frames) is outside 1...256") }
        guard temp >= 0 else { throw ValidationError("--temp must be >= 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        if let cluster { return try runOnCluster(cluster) }
        let start = ContinuousClock.now
        let pipeline = try compute.loadPipeline(
            URL(fileURLWithPath: modelDir ?? ".", isDirectory: true),
            limits: .init(maxImagePixels: maxImagePixels, maxPromptTokens: maxPromptTokens))
        let load = ContinuousClock.now - start
        let settings = GenerationSettings(maxNewTokens: maxNewTokens, temperature: greedy ? 0 : temp, topK: topK,
                                          topP: topP, repetitionPenalty: repetitionPenalty, seed: seed)
        let videoFrames = try video.map { try VideoFrames.load(path: $0, segments: frames, maxPixels: maxImagePixels) } ?? []
        let request = ChatRequest(question: prompt, images: images.map { .file($0) }, videoFrames: videoFrames,
                                  combineImages: combineImages,
                                  maxTiles: maxTiles, systemMessage: system, settings: settings)
        let streamToStdout: ((String) -> Void)? = json ? nil : { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        let response = try pipeline.respond(to: request, onText: streamToStdout)
        let loadSeconds = Double(load.components.seconds) + Double(load.components.attoseconds) * 1e-18
        try printResponse(promptIDs: response.promptIDs, ids: response.generatedIDs, text: response.text,
                          tiles: response.tilesPerImage, timings: response.timings, loadSeconds: loadSeconds)
    }

    /// Sends the request to the coordinator of `file` and prints its answer as a local run would.
    private func runOnCluster(_ file: String) throws {
        let configuration = try ClusterConfiguration.load(path: file)
        var request = Internvl_V1_GenerateRequest()
        request.question = prompt
        if let system {
            request.systemMessage = system
            request.hasSystemMessage_p = true
        }
        request.maxTiles = UInt32(maxTiles ?? 0)
        request.maxNewTokens = UInt32(maxNewTokens)
        request.combineImages = combineImages
        request.sampling.temperature = greedy ? 0 : temp
        request.sampling.topK = UInt32(max(topK, 0))
        request.sampling.topP = topP
        request.sampling.repetitionPenalty = repetitionPenalty
        request.sampling.seed = seed
        request.priority = priority == "batch" ? .batch : .interactive
        var files: [(name: String, bytes: [UInt8])] = []
        for path in images {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw InputError("\(path): cannot read the image file")
            }
            files.append((name: path, bytes: [UInt8](data)))
        }
        let videoFrames = try video.map { try VideoFrames.load(path: $0, segments: frames, maxPixels: maxImagePixels) } ?? []
        // Ctrl-C or SIGTERM cancels the request on the cluster (the coordinator answers "cancelled").
        let cancellation = ClusterClient.Cancellation()
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { cancellation.cancel() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        let streamToStdout: ((Internvl_V1_GenerateDelta) -> Void)? = json ? nil : { delta in
            if !delta.text.isEmpty { FileHandle.standardOutput.write(Data(delta.text.utf8)) }
        }
        let result: Internvl_V1_GenerateResult
        do {
            result = try ClusterClient.generate(request, images: files, videoFrames: videoFrames,
                                                endpoint: configuration.coordinator.clients, timeout: .seconds(timeout),
                                                cancellation: cancellation, onDelta: streamToStdout)
        } catch let error as ClusterClient.RequestError where error.isInputError {
            throw InputError(error.message)
        }
        var timings = Timings()
        timings.preprocess = result.preprocessSeconds
        timings.vision = result.visionSeconds
        timings.prefill = result.prefillSeconds
        timings.decode = result.decodeSeconds
        timings.promptTokens = result.promptIds.count
        timings.generatedTokens = result.ids.count
        try printResponse(promptIDs: result.promptIds.map(Int.init), ids: result.ids.map(Int.init), text: result.text,
                          tiles: result.tiles.map(Int.init), timings: timings, loadSeconds: 0)
    }

    /// Prints the `--json` object, or ends the streamed text and prints the timing line on stderr.
    private func printResponse(promptIDs: [Int], ids: [Int], text: String, tiles: [Int], timings t: Timings,
                               loadSeconds: Double) throws {
        if json {
            let object: [String: Any] = [
                "prompt_ids": promptIDs, "ids": ids, "text": text,
                "tiles": tiles,
                "timings": ["load_s": loadSeconds, "preprocess_s": t.preprocess, "vision_s": t.vision, "prefill_s": t.prefill,
                            "decode_s": t.decode, "prompt_tokens": t.promptTokens, "generated_tokens": t.generatedTokens,
                            "prefill_tokens_per_s": t.prefillTokensPerSecond, "decode_tokens_per_s": t.decodeTokensPerSecond],
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("")
            FileHandle.standardError.write(Data(String(
                format: "[load %.2f s, preprocess %.2f s, vision %.2f s, prefill %d tok in %.2f s (%.1f tok/s), decode %d tok in %.2f s (%.1f tok/s)]\n",
                loadSeconds, t.preprocess, t.vision, t.promptTokens, t.prefill, t.prefillTokensPerSecond,
                t.generatedTokens, t.decode, t.decodeTokensPerSecond).utf8))
        }
    }
}
