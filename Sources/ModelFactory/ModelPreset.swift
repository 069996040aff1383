/// Model sizes `internvl init-model` can generate: the real InternVL2 layouts with random weights.
public struct ModelPreset: Sendable, Equatable {
    public struct Vision: Sendable, Equatable {
        public var hidden: Int, layers: Int, heads: Int, intermediate: Int
    }

    public struct Language: Sendable, Equatable {
        public var hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int
        /// SentencePiece pieces (the chat tokens are the last 6); the 9 InternVL tokens follow as added tokens.
        public var sentencePiecePieces: Int
        public var maxPositions: Int
        public var ropeTheta: Int
        public var dynamicFactor: Double
    }

    public var name: String
    public var vision: Vision
    public var language: Language

    /// Total vocabulary (SentencePiece pieces + 9 InternVL tokens).
    public var vocabularySize: Int { language.sentencePiecePieces + 9 }

    /// The tiny layout of the golden fixtures (2 + 2 layers): for demos and tests.
    public static let tiny = ModelPreset(
        name: "tiny",
        vision: Vision(hidden: 64, layers: 2, heads: 4, intermediate: 128),
        language: Language(hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 256,
                           sentencePiecePieces: 1536, maxPositions: 32768, ropeTheta: 1_000_000, dynamicFactor: 2))

    /// InternVL2-2B: InternViT-300M + internlm2-chat-1.8B.
    public static let internVL2_2B = ModelPreset(
        name: "internvl2-2b",
        vision: Vision(hidden: 1024, layers: 24, heads: 16, intermediate: 4096),
        language: Language(hidden: 2048, layers: 24, heads: 16, kvHeads: 8, intermediate: 8192,
                           sentencePiecePieces: 92544, maxPositions: 32768, ropeTheta: 1_000_000, dynamicFactor: 2))

    /// InternVL2-8B: InternViT-300M + internlm2.5-7B-chat.
    public static let internVL2_8B = ModelPreset(
        name: "internvl2-8b",
        vision: Vision(hidden: 1024, layers: 24, heads: 16, intermediate: 4096),
        language: Language(hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336,
                           sentencePiecePieces: 92544, maxPositions: 32768, ropeTheta: 1_000_000, dynamicFactor: 2))

    public static let all = [tiny, internVL2_2B, internVL2_8B]

    public static func named(_ name: String) -> ModelPreset? { all.first { $0.name == name } }
}
