import Media
import Tokenizer

/// An image given to the model: a file, an in-memory encoded file, or decoded RGB pixels.
public enum ImageInput: Sendable {
    case file(String)
    case encoded(bytes: [UInt8], name: String)
    case pixels(RGBImage)
}

/// Decoding settings of one request. Temperature 0 (the default) is greedy decoding, as the model card uses.
public struct GenerationSettings: Sendable, Equatable {
    public var maxNewTokens: Int
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var repetitionPenalty: Float
    public var seed: UInt64

    public init(maxNewTokens: Int = 1024, temperature: Float = 0, topK: Int = 0, topP: Float = 1,
                repetitionPenalty: Float = 1, seed: UInt64 = 0) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }

    /// Whether decoding is greedy (argmax).
    public var isGreedy: Bool { temperature == 0 }
}

/// One question to the model, as the reference `chat()` takes it.
public struct ChatRequest: Sendable {
    /// The user's text; `<image>` placeholders are expanded in order, one per image.
    public var question: String
    /// Images of this turn, in order.
    public var images: [ImageInput]
    /// Decoded video frames (one 448x448 tile each, `FrameN: <image>` lines before the question).
    public var videoFrames: [RGBImage]
    /// Put every image's tiles into a single `<img>` block (the model card's "combined" multi-image form).
    public var combineImages: Bool
    /// Tiles per image (1...40; the config's max_dynamic_patch by default).
    public var maxTiles: Int?
    /// Earlier rounds; nil for a first round (only then is `<image>\n` prepended automatically).
    public var history: [InternVLPromptBuilder.Turn]?
    /// Replaces the template's default system message.
    public var systemMessage: String?
    public var settings: GenerationSettings

    public init(question: String, images: [ImageInput] = [], videoFrames: [RGBImage] = [], combineImages: Bool = false,
                maxTiles: Int? = nil, history: [InternVLPromptBuilder.Turn]? = nil, systemMessage: String? = nil,
                settings: GenerationSettings = GenerationSettings()) {
        self.question = question
        self.images = images
        self.videoFrames = videoFrames
        self.combineImages = combineImages
        self.maxTiles = maxTiles
        self.history = history
        self.systemMessage = systemMessage
        self.settings = settings
    }
}

/// The answer to a `ChatRequest`.
public struct ChatResponse: Sendable {
    /// The ids fed to the model (BOS included).
    public var promptIDs: [Int]
    /// The generated ids (the stop token included when generation stopped on it).
    public var generatedIDs: [Int]
    /// The response text as the reference `chat()` returns it.
    public var text: String
    /// The question as recorded in history (with any auto-prepended `<image>\n`).
    public var question: String
    /// History including this round, for the next request.
    public var history: [InternVLPromptBuilder.Turn]
    /// Tiles per image in order.
    public var tilesPerImage: [Int]
    public var timings: Timings
}

/// Wall-clock time of each phase of a request, in seconds.
public struct Timings: Sendable, Equatable {
    public var preprocess: Double = 0
    public var vision: Double = 0
    public var prefill: Double = 0
    public var decode: Double = 0
    public var promptTokens: Int = 0
    public var generatedTokens: Int = 0

    public init() {}

    /// Generated tokens per second of decode time.
    public var decodeTokensPerSecond: Double { decode > 0 ? Double(max(generatedTokens - 1, 0)) / decode : 0 }
    /// Prompt tokens per second of prefill time.
    public var prefillTokensPerSecond: Double { prefill > 0 ? Double(promptTokens) / prefill : 0 }
}
