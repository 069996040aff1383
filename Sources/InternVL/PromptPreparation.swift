import Checkpoint
import Foundation
import Media
import Tokenizer

/// A request turned into model input: pixel values of every tile and the prompt ids (BOS included).
public struct PreparedPrompt: Sendable {
    /// The ids fed to the model.
    public var promptIDs: [Int]
    /// Pixel values [tiles, 3, imageSize, imageSize] of every image or frame, in order.
    public var pixelValues: [Float]
    /// Tiles per image or frame, in order.
    public var tilesPerImage: [Int]
    /// The question as recorded in history (with any auto-prepended `<image>` lines).
    public var question: String
    /// Seconds spent decoding and tiling images.
    public var preprocessSeconds: Double

    /// Tiles of all images together.
    public var totalTiles: Int { tilesPerImage.reduce(0, +) }
}

/// The model-independent first step of a request, shared by the single-process pipeline and the cluster coordinator:
/// validate settings, decode and tile images, build the chat prompt exactly as the reference `chat()` does, tokenize,
/// and check the prompt limit. It also turns generated ids back into the response text.
public struct PromptPreparation: Sendable {
    public let configuration: InternVLConfiguration
    public let tokenizer: InternLM2Tokenizer
    public let limits: InternVLPipeline.Limits
    /// Id of `<IMG_CONTEXT>`.
    public let imageContextID: Int
    /// Id of the template's stop token (`<|im_end|>`).
    public let stopID: Int
    /// The chat template of the model.
    public let template: ChatTemplate

    /// - Throws: `InternVLError.tokenizerLacks` when the tokenizer has no `<IMG_CONTEXT>` or stop token.
    public init(configuration: InternVLConfiguration, tokenizer: InternLM2Tokenizer, limits: InternVLPipeline.Limits) throws {
        self.configuration = configuration
        self.tokenizer = tokenizer
        self.limits = limits
        guard let context = tokenizer.id(of: InternVLPromptBuilder.imageContextToken) else {
            throw InternVLError.tokenizerLacks(InternVLPromptBuilder.imageContextToken)
        }
        template = ChatTemplate.named(configuration.template) ?? .internLM2Chat
        guard let stop = tokenizer.id(of: template.stopToken) else { throw InternVLError.tokenizerLacks(template.stopToken) }
        imageContextID = context
        stopID = stop
    }

    /// Loads config.json and the tokenizer files of `modelDirectory` (no weights).
    public init(modelDirectory: URL, limits: InternVLPipeline.Limits = .init()) throws {
        try self.init(configuration: InternVLConfiguration(directory: modelDirectory),
                      tokenizer: InternLM2Tokenizer(directory: modelDirectory), limits: limits)
    }

    /// The prompt builder for a request (system message: the request's, the config's, or the template default).
    public func promptBuilder(systemMessage: String?) -> InternVLPromptBuilder {
        InternVLPromptBuilder(template: template,
                              systemMessage: systemMessage ?? configuration.systemMessage ?? ChatTemplate.internVLSystemMessage,
                              imageTokensPerTile: configuration.imageTokensPerTile)
    }

    /// Validates `request`, preprocesses its images or frames and builds its prompt ids.
    /// - Throws: `InternVLError` for a bad setting or an over-long prompt, `MediaError` for an unreadable image.
    public func prepare(_ request: ChatRequest) throws -> PreparedPrompt {
        let settings = request.settings
        guard settings.maxNewTokens >= 1 else {
            throw InternVLError.invalidSetting(name: "max_new_tokens", value: "\(settings.maxNewTokens)", rule: "must be at least 1")
        }
        guard settings.temperature >= 0, settings.temperature.isFinite else {
            throw InternVLError.invalidSetting(name: "temperature", value: "\(settings.temperature)", rule: "must be >= 0")
        }
        if !request.images.isEmpty && !request.videoFrames.isEmpty {
            throw InternVLError.invalidSetting(name: "images", value: "\(request.images.count) images and a video",
                                               rule: "give images or video frames, not both")
        }

        // Images and video frames -> pixel values, tiles per image.
        let start = ContinuousClock.now
        let maxTiles = request.maxTiles ?? configuration.maxDynamicPatch
        let decoder = ImageDecoder(maxPixels: limits.maxImagePixels)
        var pixelValues: [Float] = []
        var tilesPerImage: [Int] = []
        var question = request.question
        if !request.videoFrames.isEmpty {
            let loader = ImageLoader(decoder: decoder, tiling: try DynamicTiling(minTiles: 1, maxTiles: 1,
                                     imageSize: configuration.imageSize, useThumbnail: configuration.useThumbnail))
            for frame in request.videoFrames {
                let (_, values) = loader.preprocess(frame)
                pixelValues += values.values
                tilesPerImage.append(values.tileCount)
            }
            question = InternVLPromptBuilder.videoQuestion(question, frameCount: request.videoFrames.count)
        } else if !request.images.isEmpty {
            let loader = ImageLoader(decoder: decoder, tiling: try DynamicTiling(
                minTiles: configuration.minDynamicPatch, maxTiles: maxTiles, imageSize: configuration.imageSize,
                useThumbnail: configuration.useThumbnail))
            for image in request.images {
                let values: PixelValues
                switch image {
                case .file(let path): values = try loader.load(path: path).pixelValues
                case .encoded(let bytes, let name): values = try loader.load(bytes: bytes, name: name).pixelValues
                case .pixels(let rgb): values = loader.preprocess(rgb).pixelValues
                }
                pixelValues += values.values
                tilesPerImage.append(values.tileCount)
            }
            if !request.combineImages && request.history == nil {
                question = InternVLPromptBuilder.questionForImages(question, imageCount: request.images.count)
            }
        }
        let blockTiles = request.combineImages ? [tilesPerImage.reduce(0, +)] : tilesPerImage
        let elapsed = ContinuousClock.now - start

        // Prompt.
        let prompt = try promptBuilder(systemMessage: request.systemMessage)
            .chatPrompt(question: question, history: request.history, imageTileCounts: blockTiles)
        let promptIDs = tokenizer.encode(prompt.text)
        guard promptIDs.count <= limits.maxPromptTokens else {
            throw InternVLError.promptTooLong(tokens: promptIDs.count, limit: limits.maxPromptTokens)
        }
        return PreparedPrompt(promptIDs: promptIDs, pixelValues: pixelValues, tilesPerImage: tilesPerImage,
                              question: prompt.question,
                              preprocessSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// The response text of `generatedIDs`, as the reference `chat()` returns it.
    public func responseText(generatedIDs: [Int]) throws -> String {
        try tokenizer.chatResponse(generatedIDs: generatedIDs, template: template)
    }
}
