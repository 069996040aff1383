import Foundation
import InternVL
import Media
import Tokenizer
import Transport
import Wire

/// One client request while the coordinator serves it: where to answer, what was prepared, what was generated.
struct ScheduledRequest {
    /// The client's ROUTER identity (bytes, so a new frame is made for every message sent).
    let route: [UInt8]
    let request: Internvl_V1_GenerateRequest
    let sequence: UInt64
    let chat: ChatRequest
    /// The request's sampling settings with defaults filled in (top-p 1, repetition penalty 1).
    let sampling: Internvl_V1_SamplingParams
    var prepared: PreparedPrompt?
    /// Image embeddings [rows, hidden] once the vision worker answered.
    var embeddings: [Float] = []
    /// The vision request while its answer is outstanding (sent again to a replacement vision worker).
    var pendingVision: WireMessage?
    var visionSentAt: ContinuousClock.Instant?
    /// Start of the current timing phase (vision, prefill, decode).
    var clock = ContinuousClock.now
    var result = Internvl_V1_GenerateResult()
    var generated: [Int] = []
    /// Set for a streaming request: turns tokens into text exactly as a local run streams it.
    var detokenizer: StreamingDetokenizer?

    init(route: [UInt8], request: Internvl_V1_GenerateRequest, sequence: UInt64, chat: ChatRequest, tokenizer: InternLM2Tokenizer) {
        self.route = route
        self.request = request
        self.sequence = sequence
        self.chat = chat
        var sampling = request.sampling
        sampling.topP = chat.settings.topP
        sampling.repetitionPenalty = chat.settings.repetitionPenalty
        self.sampling = sampling
        result.requestID = request.requestID
        if request.stream { detokenizer = StreamingDetokenizer(tokenizer: tokenizer) }
    }

    /// Seconds since `clock`, and restarts it.
    mutating func lap() -> Double {
        let now = ContinuousClock.now
        let elapsed = now - clock
        clock = now
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// A failure of one request: the input's fault or the cluster's.
    struct Failure: Error {
        var message: String
        var isInput: Bool
    }

    /// The chat request a `GenerateRequest` describes, its images taken from their frames, checked against the
    /// cluster file's limits.
    static func chatRequest(_ request: Internvl_V1_GenerateRequest, frames: [ZMQFrame],
                            limits: (maxTiles: Int, maxImagePixels: Int, maxPromptTokens: Int, maxNewTokens: Int)) throws -> ChatRequest {
        func input(_ text: String) -> Failure { Failure(message: text, isInput: true) }
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
}
