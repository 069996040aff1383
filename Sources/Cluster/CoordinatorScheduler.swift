import Foundation
import InternVL
import Media
import Transport
import Wire

/// The coordinator's request path: takes `GenerateRequest`s from clients (a ROUTER on `coordinator.clients`),
/// prepares each prompt exactly as `InternVLPipeline` does, has the vision worker encode the tiles, drives the LLM
/// stages token by token (prefill, then one decode step per sampled token) and answers with a `GenerateResult`.
///
/// Requests are served one at a time in arrival order (FIFO); each gets its own sequence id, and its KV caches are
/// freed on every stage when it ends. A request that fails (bad image, prompt too long, a worker error) is answered
/// with `GenerateResult.error` and the coordinator keeps serving.
public final class CoordinatorScheduler: @unchecked Sendable {
    /// The bound clients endpoint.
    public let endpoint: String
    private let loop: SocketLoop
    private let control: CoordinatorControl
    private let preparation: PromptPreparation
    private let limits: (maxTiles: Int, maxImagePixels: Int, maxPromptTokens: Int, maxNewTokens: Int)
    private let visionWorker: String?
    private let stages: [String]
    /// Worker messages and a once-a-second tick (so a wait can give up on a silent worker).
    private enum WorkerEvent {
        case message(worker: String, WireMessage)
        case tick
    }
    private var workerEvents: AsyncStream<WorkerEvent>.AsyncIterator
    private let workerEventPump: Task<Void, Never>
    private let ticker: Task<Void, Never>
    /// How long a request waits for one worker answer before it fails.
    public let workerTimeout: Duration
    private var nextSequence: UInt64 = 1
    private var nextBatch: UInt64 = 1

    /// Binds `coordinator.clients` of `configuration` (or `endpoint`); `preparation` must use the cluster's limits.
    /// A request fails when a worker leaves it without an answer for `workerTimeout`.
    public init(configuration: ClusterConfiguration, control: CoordinatorControl, preparation: PromptPreparation,
                endpoint: String? = nil, workerTimeout: Duration = .seconds(300)) throws {
        self.workerTimeout = workerTimeout
        self.control = control
        self.preparation = preparation
        limits = configuration.effectiveLimits
        visionWorker = configuration.workers.first { $0.role == .vision }?.name
        stages = configuration.workers.filter { $0.role == .llm }.map(\.name)
        let (events, sink) = AsyncStream.makeStream(of: WorkerEvent.self)
        workerEvents = events.makeAsyncIterator()
        workerEventPump = Task {
            for await (worker, message) in control.workerMessages { sink.yield(.message(worker: worker, message)) }
            sink.finish()
        }
        ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                sink.yield(.tick)
            }
        }
        let socket = try ZMQSocket(.router)
        let address = endpoint ?? configuration.coordinator.clients
        do { try socket.bind(address) } catch {
            throw ClusterRuntimeError(.configuration, "cannot bind coordinator.clients \(address): \(error)")
        }
        self.endpoint = try socket.lastEndpoint()
        loop = SocketLoop(socket: socket, name: "coordinator-clients")
    }

    /// The prompt preparation a coordinator needs for `configuration`: the model's tokenizer and config, and the
    /// cluster file's image and prompt limits.
    public static func preparation(for configuration: ClusterConfiguration) throws -> PromptPreparation {
        let limits = configuration.effectiveLimits
        return try PromptPreparation(modelDirectory: URL(fileURLWithPath: configuration.model.path, isDirectory: true),
                                     limits: .init(maxImagePixels: limits.maxImagePixels, maxPromptTokens: limits.maxPromptTokens))
    }

    /// Serves client requests until `stop()`.
    public func run() async {
        for await frames in loop.incoming {
            guard frames.count >= 2 else { continue }
            let route = frames[0]
            var result: Internvl_V1_GenerateResult
            do {
                let message = try WireMessage.decode(frames, skip: 1)
                guard case .generateRequest(let request) = message.envelope.body else { continue }
                result = await serve(request, frames: message.tensorFrames)
            } catch {
                result = Internvl_V1_GenerateResult()
                result.error = "\(error)"
                result.inputError = true
            }
            if let reply = try? WireMessage(.generateResult(result)).frames() { loop.send([route] + reply) }
        }
    }

    /// Closes the clients socket; `run()` returns.
    public func stop() {
        ticker.cancel()
        workerEventPump.cancel()
        loop.stop()
    }

    /// A failure of one request: the input's fault or the cluster's.
    private struct RequestFailure: Error {
        var message: String
        var isInput: Bool
    }

    private func serve(_ request: Internvl_V1_GenerateRequest, frames: [ZMQFrame]) async -> Internvl_V1_GenerateResult {
        var result = Internvl_V1_GenerateResult()
        result.requestID = request.requestID
        do {
            try await generate(request, frames: frames, into: &result)
        } catch let failure as RequestFailure {
            result = Internvl_V1_GenerateResult()
            result.requestID = request.requestID
            result.error = failure.message
            result.inputError = failure.isInput
        } catch {
            result = Internvl_V1_GenerateResult()
            result.requestID = request.requestID
            result.error = "\(error)"
            result.inputError = false
        }
        return result
    }

    /// The chat request a `GenerateRequest` describes, its images taken from their frames.
    private func chatRequest(_ request: Internvl_V1_GenerateRequest, frames: [ZMQFrame]) throws -> ChatRequest {
        func input(_ text: String) -> RequestFailure { RequestFailure(message: text, isInput: true) }
        var images: [ImageInput] = []
        for (index, frame) in request.imageFrames.enumerated() {
            guard Int(frame) < frames.count else {
                throw input("image_frames[\(index)] = \(frame) but the request has \(frames.count) frames")
            }
            let name = index < request.imageNames.count ? request.imageNames[index] : "image \(index + 1)"
            images.append(.encoded(bytes: Array(frames[Int(frame)].bytes), name: name))
        }
        var videoFrames: [RGBImage] = []
        for (index, raw) in request.videoFrames.enumerated() {
            let width = Int(raw.width), height = Int(raw.height), frame = Int(raw.dataFrame)
            guard width > 0, height > 0, width * height <= limits.maxImagePixels else {
                throw input("video_frames[\(index)] is \(width)x\(height); must be non-empty and at most \(limits.maxImagePixels) pixels (limits.max_image_pixels)")
            }
            guard frame < frames.count, frames[frame].count == width * height * 3 else {
                throw input("video_frames[\(index)]: frame \(frame) missing or not \(width)x\(height)x3 bytes")
            }
            videoFrames.append(RGBImage(width: width, height: height, pixels: Array(frames[frame].bytes)))
        }
        let maxTiles = request.maxTiles == 0 ? nil : Int(request.maxTiles)
        if let maxTiles, !(1...limits.maxTiles).contains(maxTiles) {
            throw input("max_tiles \(maxTiles) is outside 1...\(limits.maxTiles) (limits.max_tiles of the cluster file)")
        }
        let maxNewTokens = Int(request.maxNewTokens)
        guard (1...limits.maxNewTokens).contains(maxNewTokens) else {
            throw input("max_new_tokens \(maxNewTokens) is outside 1...\(limits.maxNewTokens) (limits.max_new_tokens of the cluster file)")
        }
        let s = request.sampling
        let settings = GenerationSettings(maxNewTokens: maxNewTokens, temperature: s.temperature, topK: Int(s.topK),
                                          topP: s.topP == 0 ? 1 : s.topP,
                                          repetitionPenalty: s.repetitionPenalty == 0 ? 1 : s.repetitionPenalty, seed: s.seed)
        return ChatRequest(question: request.question, images: images, videoFrames: videoFrames, combineImages: request.combineImages,
                           maxTiles: maxTiles, systemMessage: request.hasSystemMessage_p ? request.systemMessage : nil,
                           settings: settings)
    }

    private func generate(_ request: Internvl_V1_GenerateRequest, frames: [ZMQFrame],
                          into result: inout Internvl_V1_GenerateResult) async throws {
        guard let firstStage = stages.first else { throw RequestFailure(message: "the cluster file has no llm stage", isInput: false) }
        let chat = try chatRequest(request, frames: frames)
        let prepared: PreparedPrompt
        do { prepared = try preparation.prepare(chat) } catch {
            throw RequestFailure(message: "\(error)", isInput: true)
        }
        let sequence = nextSequence
        nextSequence += 1
        defer { free(sequence) }
        var clock = ContinuousClock.now
        result.promptIds = prepared.promptIDs.map(UInt32.init)
        result.tiles = prepared.tilesPerImage.map(UInt32.init)
        result.preprocessSeconds = prepared.preprocessSeconds

        // Vision.
        let hidden = preparation.configuration.llm.hiddenSize
        var imageFrames: [ZMQFrame] = []
        var imageReference: Internvl_V1_TensorRef?
        var imageRows = 0
        if prepared.totalTiles > 0 {
            guard let visionWorker else {
                throw RequestFailure(message: "the request has images but the cluster file has no vision worker", isInput: true)
            }
            var vision = Internvl_V1_VisionRequest()
            vision.requestID = sequence
            var pixelFrames: [ZMQFrame] = []
            let tiles = prepared.totalTiles
            vision.pixelValues = prepared.pixelValues.withUnsafeBufferPointer {
                TensorFrames.append($0.baseAddress!, rows: tiles, columns: prepared.pixelValues.count / tiles, to: &pixelFrames)
            }
            try control.send(WireMessage(.visionRequest(vision), tensorFrames: pixelFrames), to: visionWorker)
            let reply = try await awaitReply(sequence: sequence, from: visionWorker) {
                if case .visionResult(let r) = $0.envelope.body, r.requestID == sequence { return true }
                return false
            }
            guard case .visionResult(let answer) = reply.envelope.body else { fatalError("matched a vision result") }
            let (rows, columns) = try TensorFrames.validate(answer.embeddings, in: reply.tensorFrames)
            guard columns == hidden else {
                throw RequestFailure(message: "vision worker returned embeddings of width \(columns), expected \(hidden)", isInput: false)
            }
            var reference = answer.embeddings
            reference.dataFrame = UInt32(imageFrames.count)
            imageFrames.append(reply.tensorFrames[Int(answer.embeddings.dataFrame)])
            if reference.encoding == .int8Row {
                reference.scaleFrame = UInt32(imageFrames.count)
                imageFrames.append(reply.tensorFrames[Int(answer.embeddings.scaleFrame)])
            }
            imageReference = reference
            imageRows = rows
        }
        result.visionSeconds = Self.seconds(since: &clock)

        // Prefill, then one decode step per sampled token.
        var sampling = request.sampling
        sampling.topP = chat.settings.topP
        sampling.repetitionPenalty = chat.settings.repetitionPenalty
        let maxNewTokens = chat.settings.maxNewTokens
        var chunk = Internvl_V1_SequenceChunk()
        chunk.sequenceID = sequence
        chunk.startPosition = 0
        chunk.tokenIds = result.promptIds
        chunk.imageRowCount = UInt32(imageRows)
        chunk.imageContextTokenID = UInt32(preparation.imageContextID)
        chunk.sample = true
        chunk.sampling = sampling
        chunk.maxPositions = UInt32(prepared.promptIDs.count + maxNewTokens)
        var generated: [Int] = []
        var images = imageFrames
        while true {
            var batch = Internvl_V1_ForwardBatch()
            batch.batchID = nextBatch
            nextBatch += 1
            batch.chunks = [chunk]
            if let imageReference, chunk.startPosition == 0 { batch.imageEmbeddings = imageReference }
            try control.send(WireMessage(.forwardBatch(batch), tensorFrames: images), to: firstStage)
            images = []
            let batchID = batch.batchID
            let reply = try await awaitReply(sequence: sequence, from: stages.last ?? firstStage) {
                if case .sampledTokens(let t) = $0.envelope.body, t.batchID == batchID { return true }
                return false
            }
            guard case .sampledTokens(let tokens) = reply.envelope.body,
                  let token = tokens.tokens.first(where: { $0.sequenceID == sequence }) else {
                throw RequestFailure(message: "last stage answered batch \(batchID) without a token for sequence \(sequence)", isInput: false)
            }
            if generated.isEmpty { result.prefillSeconds = Self.seconds(since: &clock) }
            generated.append(Int(token.tokenID))
            if Int(token.tokenID) == preparation.stopID || generated.count == maxNewTokens { break }
            chunk.startPosition = UInt32(prepared.promptIDs.count + generated.count - 1)
            chunk.tokenIds = [token.tokenID]
            chunk.imageRowCount = 0
            chunk.sampling.step = UInt32(generated.count)
        }
        result.decodeSeconds = Self.seconds(since: &clock)
        result.ids = generated.map(UInt32.init)
        result.text = try preparation.responseText(generatedIDs: generated)
    }

    /// Waits for the worker message `matches` accepts; an error report about `sequence`, or `workerTimeout` without
    /// the answer, fails the request.
    private func awaitReply(sequence: UInt64, from worker: String, _ matches: (WireMessage) -> Bool) async throws -> WireMessage {
        let deadline = ContinuousClock.now + workerTimeout
        while let event = await workerEvents.next() {
            switch event {
            case .tick:
                if ContinuousClock.now >= deadline {
                    throw RequestFailure(message: "worker \(worker) did not answer sequence \(sequence) within \(workerTimeout)", isInput: false)
                }
            case .message(let sender, let message):
                if matches(message) { return message }
                if case .error(let report) = message.envelope.body, report.sequenceID == sequence || report.sequenceID == 0 {
                    throw RequestFailure(message: "worker \(sender): \(report.message)", isInput: false)
                }
            }
        }
        throw RequestFailure(message: "the coordinator's control socket closed", isInput: false)
    }

    /// Drops `sequence`'s KV caches on every stage.
    private func free(_ sequence: UInt64) {
        var message = Internvl_V1_FreeSequences()
        message.sequenceIds = [sequence]
        for stage in stages { try? control.send(WireMessage(.freeSequences(message)), to: stage) }
    }

    private static func seconds(since clock: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        let elapsed = now - clock
        clock = now
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
