import Checkpoint
import Foundation
@_exported import enum Kernels.WeightFormat
import Media
import Models
import Tokenizer

/// InternVL2 in one process: load a model directory once, then ask questions about images, videos and text.
///
/// ```swift
/// let pipeline = try InternVLPipeline(modelDirectory: URL(fileURLWithPath: "/models/InternVL2-8B"))
/// let answer = try pipeline.respond(to: ChatRequest(question: "Describe the image.", images: [.file("cat.jpg")]))
/// print(answer.text)
/// ```
///
/// Requests run one at a time (the model reuses its scratch buffers); calls from several threads are serialized.
public final class InternVLPipeline: @unchecked Sendable {
    /// Limits that protect the process from oversized input.
    public struct Limits: Sendable, Equatable {
        /// Largest decoded image, in pixels (decompression-bomb guard).
        public var maxImagePixels: Int
        /// Largest prompt, in tokens (images included).
        public var maxPromptTokens: Int

        public init(maxImagePixels: Int = ImageDecoder.defaultMaxPixels, maxPromptTokens: Int = 8192) {
            self.maxImagePixels = maxImagePixels
            self.maxPromptTokens = maxPromptTokens
        }
    }

    public let configuration: InternVLConfiguration
    public let tokenizer: InternLM2Tokenizer
    public let limits: Limits
    let model: InternVLModel
    private let lock = NSLock()
    /// Settings check, image preprocessing and prompt building, shared with the cluster coordinator.
    public let preparation: PromptPreparation
    private var imageContextID: Int { preparation.imageContextID }
    private var stopID: Int { preparation.stopID }

    /// Loads config.json, the tokenizer files and all weights of `modelDirectory`, Linear weights in `weights`
    /// (bf16 is exact for the bf16 checkpoints InternVL2 ships; q8_0 and q4_0 quantize at load).
    public init(modelDirectory: URL, limits: Limits = Limits(), weights: WeightFormat = .bf16) throws {
        configuration = try InternVLConfiguration(directory: modelDirectory)
        tokenizer = try InternLM2Tokenizer(directory: modelDirectory)
        model = try InternVLModel(directory: modelDirectory, weightFormat: weights)
        self.limits = limits
        preparation = try PromptPreparation(configuration: configuration, tokenizer: tokenizer, limits: limits)
    }

    /// Answers `request`. `onText` receives the response text as it is generated (complete characters only).
    public func respond(to request: ChatRequest, onText: ((String) -> Void)? = nil) throws -> ChatResponse {
        try lock.withLock { try respondLocked(to: request, onText: onText) }
    }

    /// Answers independent requests (each with its own images and settings) together: each request's images are
    /// encoded, then every prompt is prefilled in one batched call and all unfinished sequences decode in one
    /// batched step per token (weights read once per step for the whole batch). Greedy requests get the tokens
    /// `respond(to:)` gives them one by one. In each response's timings, `prefill` and `decode` are those of the
    /// whole batch.
    public func respond(toBatch requests: [ChatRequest]) throws -> [ChatResponse] {
        try lock.withLock { try respondLocked(toBatch: requests) }
    }

    /// Streams the response text of `request` as it is generated.
    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let thread = Thread { [self] in
                do {
                    _ = try respond(to: request) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// A multi-turn conversation that keeps its history (and re-sends its images, as the reference does).
    public func session(systemMessage: String? = nil, maxTiles: Int? = nil) -> ChatSession {
        ChatSession(pipeline: self, systemMessage: systemMessage, maxTiles: maxTiles)
    }

    private func respondLocked(to request: ChatRequest, onText: ((String) -> Void)?) throws -> ChatResponse {
        var timings = Timings()
        let settings = request.settings
        let prepared = try preparation.prepare(request)
        var clock = ContinuousClock.now
        let promptIDs = prepared.promptIDs
        let tilesPerImage = prepared.tilesPerImage
        timings.preprocess = prepared.preprocessSeconds
        timings.promptTokens = promptIDs.count

        // Vision.
        let totalTiles = tilesPerImage.reduce(0, +)
        let embeddings = try imageEmbeddings(of: prepared)
        timings.vision = seconds(since: &clock)

        // Generation.
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var streamed = ""
        var firstToken = true
        var streamError: Error?
        let result = try model.generate(
            tokenIDs: promptIDs, imageEmbeddings: embeddings, imageContextTokenID: totalTiles > 0 ? imageContextID : nil,
            parameters: generationParameters(settings)
        ) { token in
            if firstToken {
                timings.prefill = seconds(since: &clock)
                firstToken = false
            }
            guard let onText, token != stopID else { return true }
            do {
                let delta = try detokenizer.append(token)
                if !delta.isEmpty { streamed += delta; onText(delta) }
            } catch {
                streamError = error
                return false
            }
            return true
        }
        if let streamError { throw streamError }
        timings.decode = seconds(since: &clock)
        timings.generatedTokens = result.tokens.count
        let text = try preparation.responseText(generatedIDs: result.tokens)
        if let onText {
            let rest = detokenizer.finish()
            if !rest.isEmpty { onText(rest) }
        }
        let history = (request.history ?? []) + [InternVLPromptBuilder.Turn(question: prepared.question, answer: text)]
        return ChatResponse(promptIDs: promptIDs, generatedIDs: result.tokens, text: text, question: prepared.question,
                            history: history, tilesPerImage: tilesPerImage, timings: timings)
    }

    private func respondLocked(toBatch requests: [ChatRequest]) throws -> [ChatResponse] {
        var prepared: [PreparedPrompt] = []
        var inputs: [GenerationInput] = []
        var timings: [Timings] = []
        for request in requests {
            let prompt = try preparation.prepare(request)
            var clock = ContinuousClock.now
            let embeddings = try imageEmbeddings(of: prompt)
            var timing = Timings()
            timing.preprocess = prompt.preprocessSeconds
            timing.promptTokens = prompt.promptIDs.count
            timing.vision = seconds(since: &clock)
            prepared.append(prompt)
            timings.append(timing)
            inputs.append(GenerationInput(tokenIDs: prompt.promptIDs, imageEmbeddings: embeddings,
                                          imageContextTokenID: prompt.totalTiles > 0 ? imageContextID : nil,
                                          parameters: generationParameters(request.settings)))
        }
        var clock = ContinuousClock.now
        var prefillSeconds = 0.0
        let results = try model.generate(batch: inputs) { prefillSeconds = seconds(since: &clock) }
        let decodeSeconds = seconds(since: &clock)
        return try requests.indices.map { index in
            let result = results[index], prompt = prepared[index]
            var timing = timings[index]
            timing.prefill = prefillSeconds
            timing.decode = decodeSeconds
            timing.generatedTokens = result.tokens.count
            let text = try preparation.responseText(generatedIDs: result.tokens)
            let history = (requests[index].history ?? []) + [InternVLPromptBuilder.Turn(question: prompt.question, answer: text)]
            return ChatResponse(promptIDs: prompt.promptIDs, generatedIDs: result.tokens, text: text, question: prompt.question,
                                history: history, tilesPerImage: prompt.tilesPerImage, timings: timing)
        }
    }

    /// `vit_embeds` of every tile of `prompt`, [tiles * 256, H]; empty without images.
    private func imageEmbeddings(of prompt: PreparedPrompt) throws -> [Float] {
        guard prompt.totalTiles > 0 else { return [] }
        return try model.encodeImages(pixelValues: prompt.pixelValues, tiles: prompt.totalTiles,
                                      height: configuration.imageSize, width: configuration.imageSize)
    }

    /// Length, stop token and sampling of a request's settings (greedy when the settings say so).
    private func generationParameters(_ settings: GenerationSettings) -> GenerationParameters {
        var sampling: SamplingParameters? = nil
        if !settings.isGreedy {
            sampling = SamplingParameters(temperature: settings.temperature, topK: settings.topK, topP: settings.topP,
                                          repetitionPenalty: settings.repetitionPenalty, seed: settings.seed)
        }
        return GenerationParameters(maxNewTokens: settings.maxNewTokens, stopTokenIDs: [stopID], sampling: sampling)
    }

    private func seconds(since clock: inout ContinuousClock.Instant) -> Double {
        let now = ContinuousClock.now
        let elapsed = now - clock
        clock = now
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

/// A conversation: each `ask` sends the history so far and the session's images, like repeated `chat()` calls.
public final class ChatSession: @unchecked Sendable {
    private let pipeline: InternVLPipeline
    private let systemMessage: String?
    private let maxTiles: Int?
    /// Rounds so far.
    public private(set) var history: [InternVLPromptBuilder.Turn] = []
    /// Images attached so far (re-sent every round; their `<image>` placeholders live in the history).
    public private(set) var images: [ImageInput] = []

    init(pipeline: InternVLPipeline, systemMessage: String?, maxTiles: Int?) {
        self.pipeline = pipeline
        self.systemMessage = systemMessage
        self.maxTiles = maxTiles
    }

    /// Asks `question`, attaching `newImages` to the conversation.
    public func ask(_ question: String, images newImages: [ImageInput] = [], settings: GenerationSettings = GenerationSettings(),
                    onText: ((String) -> Void)? = nil) throws -> ChatResponse {
        var text = question
        // After the first round `chat()` prepends nothing: place the new images' placeholders ourselves.
        if !history.isEmpty && !newImages.isEmpty && !text.contains(InternVLPromptBuilder.imagePlaceholder) {
            text = String(repeating: InternVLPromptBuilder.imagePlaceholder + "\n", count: newImages.count) + text
        }
        let request = ChatRequest(question: text, images: images + newImages, maxTiles: maxTiles,
                                  history: history.isEmpty ? nil : history, systemMessage: systemMessage, settings: settings)
        let response = try pipeline.respond(to: request, onText: onText)
        images += newImages
        history = response.history
        return response
    }

    /// Forgets the conversation.
    public func reset() {
        history = []
        images = []
    }
}
