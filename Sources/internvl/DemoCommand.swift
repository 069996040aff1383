import ArgumentParser
import Cluster
import Foundation
import InternVL
import ModelFactory
import Wire

/// `internvl demo`: the whole path on a model the tool makes itself, with no download.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Make a tiny random-weight model and caption the example images with it on a local cluster.",
        discussion: """
            Writes the tiny preset (same layout as InternVL2-8B, 2+2 layers, random weights) to --dir unless it is
            there already, writes a cluster file beside it on free loopback ports, starts a local cluster (the
            coordinator, a vision worker and two LLM stages of one layer each, as child processes), submits every
            JPEG/PNG in --images at once as batch work, prints each caption as it finishes, and stops the cluster.
            The coordinator batches the requests continuously: their decode steps share micro-batches and both
            stages work at once. The captions are gibberish (the weights are random); the path is the real one:
            decoding, dynamic tiling, InternViT, projector, InternLM2 split over two processes, greedy decoding.
            --in-process runs the same captions in this process instead (no cluster).
            Use `internvl run -m DIR` or `internvl cluster up -c FILE` with a real checkpoint.
            """)

    @Option(help: ArgumentHelp("Where the demo model lives.", valueName: "dir"))
    var dir: String = ".internvl-demo/tiny"

    @Option(help: ArgumentHelp("A directory of images to caption.", valueName: "dir"))
    var images: String = "Examples/images"

    @Option(name: [.customShort("n"), .long], help: "Maximum new tokens per caption.")
    var maxNewTokens: Int = 24

    @Option(help: "The question asked about each image.")
    var prompt: String = "Describe the image in one sentence."

    @Flag(help: "Caption in this process instead of on a local cluster.")
    var inProcess = false

    @Option(help: "Seconds to wait for the local cluster to start.")
    var readyTimeout: Int = 120

    func validate() throws {
        guard maxNewTokens > 0 else { throw ValidationError("--max-new-tokens must be at least 1") }
    }

    func run() throws {
        // The images are checked first, so a wrong folder costs nothing (no model is written).
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: images, isDirectory: &isFolder), isFolder.boolValue else {
            throw InputError("--images \(images): no such folder (run from the repository root, or pass --images DIR)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: images)
            .filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !files.isEmpty else { throw InputError("\(images): no .png or .jpg images to caption") }
        let model = URL(fileURLWithPath: dir, isDirectory: true)
        if !FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path) {
            print("making the tiny demo model in \(dir) ...")
            try RandomCheckpoint(preset: .tiny).write(to: model)
        }
        let paths = files.map { (images as NSString).appendingPathComponent($0) }
        if inProcess {
            try captionInProcess(paths, model: model)
        } else {
            try captionOnLocalCluster(paths, model: model)
        }
    }

    /// Starts coordinator + vision + two stages on loopback, sends every image at once, prints captions as they come.
    private func captionOnLocalCluster(_ paths: [String], model: URL) throws {
        let ports = try LoopbackPorts.take(4)
        let file = model.deletingLastPathComponent().appendingPathComponent("cluster.yaml")
        try Self.clusterFile(model: model, ports: ports).write(to: file, atomically: true, encoding: .utf8)
        let group = ClusterProcessGroup(executable: ClusterProcessGroup.currentExecutable)
        let signals = SignalWatcher([SIGINT, SIGTERM]) {
            group.stopAll()
            Foundation.exit(130)
        }
        defer {
            group.stopAll()
            _ = signals
        }
        print("starting a local cluster from \(file.path): coordinator, vit-a, llm-a [0, 1), llm-b [1, 2) ...")
        let started = Date()
        try group.startCluster(file: file, workers: ["vit-a", "llm-a", "llm-b"], readyTimeout: TimeInterval(readyTimeout))
        print(String(format: "cluster ready after %.1f s; captioning %d images from %@ (random weights: expect gibberish)\n",
                     Date().timeIntervalSince(started), paths.count, images))

        let endpoint = "tcp://127.0.0.1:\(ports[1])"
        let tally = CaptionTally(total: paths.count)
        let all = DispatchGroup()
        let begin = Date()
        for path in paths {
            let request = batchRequest()
            let name = (path as NSString).lastPathComponent
            all.enter()
            Thread.detachNewThread {
                defer { all.leave() }
                let line: String
                var failed = false, count = 0
                do {
                    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                    let result = try ClusterClient.generate(request, images: [(name, bytes)], endpoint: endpoint,
                                                            timeout: .seconds(600))
                    count = result.ids.count
                    line = String(format: "%@ (%d tiles, %d prompt tokens, %d new tokens)\n  caption: %@\n"
                                  + "  time: preprocess %.2f s, vision %.2f s, prefill %.2f s, decode %.2f s",
                                  name, result.tiles.first ?? 0, result.promptIds.count, count, result.text,
                                  result.preprocessSeconds, result.visionSeconds, result.prefillSeconds, result.decodeSeconds)
                } catch {
                    failed = true
                    line = "\(name): failed: \(error)"
                }
                tally.record(line, failed: failed, tokens: count)
            }
        }
        all.wait()
        let seconds = Date().timeIntervalSince(begin)
        let (tokens, failures) = tally.totals
        print(String(format: "done: %d images in %.2f s on the cluster, %d tokens generated (%.0f tok/s over all requests)%@",
                     paths.count, seconds, tokens, Double(tokens) / max(seconds, 1e-9),
                     failures > 0 ? ", \(failures) failed" : ""))
        if failures > 0 { throw ExitCode(1) }
    }

    /// One caption request: the demo's question, greedy, as batch work.
    private func batchRequest() -> Internvl_V1_GenerateRequest {
        var request = Internvl_V1_GenerateRequest()
        request.question = prompt
        request.maxNewTokens = UInt32(maxNewTokens)
        request.priority = .batch
        return request
    }

    /// The demo's cluster file: everything on loopback, `ports` = control, clients, llm-a, llm-b.
    static func clusterFile(model: URL, ports: [Int]) -> String {
        """
        # Written by `internvl demo`: the tiny demo model on a local cluster (free loopback ports of this run).
        model: { path: "\(model.path)", weights: bf16 }
        coordinator: { control: "tcp://127.0.0.1:\(ports[0])", clients: "tcp://127.0.0.1:\(ports[1])" }
        workers:
          - { name: vit-a, role: vision, threads: 1 }
          - { name: llm-a, role: llm, layers: [0, 1], threads: 1, kv_cache_mb: 64, port: \(ports[2]) }
          - { name: llm-b, role: llm, layers: [1, 2], threads: 1, kv_cache_mb: 64, port: \(ports[3]) }
        limits: { max_tiles: 12, max_new_tokens: 1024 }

        """
    }

    /// The single-process path: one `InternVLPipeline`, one image after another.
    private func captionInProcess(_ paths: [String], model: URL) throws {
        let pipeline = try InternVLPipeline(modelDirectory: model)
        print("captioning \(paths.count) images from \(images) with \(dir) in this process (random weights: expect gibberish)\n")
        var total = 0.0
        for path in paths {
            let request = ChatRequest(question: prompt, images: [.file(path)],
                                      settings: GenerationSettings(maxNewTokens: maxNewTokens))
            let response = try pipeline.respond(to: request)
            let t = response.timings
            let seconds = t.preprocess + t.vision + t.prefill + t.decode
            total += seconds
            print("\((path as NSString).lastPathComponent) (\(response.tilesPerImage.first ?? 0) tiles, \(t.promptTokens) prompt tokens)")
            print("  caption: \(response.text)")
            print(String(format: "  time: %.2f s (preprocess %.2f, vision %.2f, prefill %.2f, decode %.2f = %.0f tok/s)\n",
                         seconds, t.preprocess, t.vision, t.prefill, t.decode, t.decodeTokensPerSecond))
        }
        print(String(format: "done: %d images in %.2f s", paths.count, total))
    }
}

/// Captions finished so far, printed one at a time with their place in the batch.
private final class CaptionTally: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private var finished = 0, failures = 0, tokens = 0

    init(total: Int) { self.total = total }

    /// Prints `line` as the next finished caption.
    func record(_ line: String, failed: Bool, tokens count: Int) {
        lock.withLock {
            finished += 1
            if failed { failures += 1 }
            tokens += count
            print("[\(finished)/\(total)] \(line)\n")
            fflush(stdout)
        }
    }

    /// Tokens generated and requests failed.
    var totals: (tokens: Int, failures: Int) { lock.withLock { (tokens, failures) } }
}
