/// Builds InternVL2 prompts exactly like the reference `InternVLChatModel.chat()` and `batch_chat()`.
///
/// Images enter the prompt as `<image>` placeholders; each image (in order) replaces the first remaining
/// placeholder anywhere in the prompt, history included, with `<img>` + `<IMG_CONTEXT>` × (tokens per tile ×
/// tiles) + `</img>`.
public struct InternVLPromptBuilder: Sendable {
    /// The placeholder users write for an image.
    public static let imagePlaceholder = "<image>"
    /// Opens an image block.
    public static let imageStartToken = "<img>"
    /// Closes an image block.
    public static let imageEndToken = "</img>"
    /// Stands for one image embedding.
    public static let imageContextToken = "<IMG_CONTEXT>"

    /// The conversation template.
    public var template: ChatTemplate
    /// The system message written into the template.
    public var systemMessage: String
    /// Image embeddings per 448×448 tile (`num_image_token`, 256 for InternVL2).
    public var imageTokensPerTile: Int

    /// Creates a builder; the defaults are InternVL2-8B's.
    public init(template: ChatTemplate = .internLM2Chat, systemMessage: String = ChatTemplate.internVLSystemMessage,
                imageTokensPerTile: Int = 256) {
        self.template = template
        self.systemMessage = systemMessage
        self.imageTokensPerTile = imageTokensPerTile
    }

    /// One earlier round of a conversation, as `chat()` keeps it in `history`.
    public struct Turn: Sendable, Equatable {
        /// The question as it was sent (including any `<image>\n` that `chat()` prepended).
        public var question: String
        /// The model's reply.
        public var answer: String

        /// Creates a turn.
        public init(question: String, answer: String) {
            self.question = question
            self.answer = answer
        }
    }

    /// A built prompt.
    public struct ChatPrompt: Sendable, Equatable {
        /// The question as `chat()` records it in the returned history.
        public var question: String
        /// The full prompt text given to the tokenizer (image blocks expanded).
        public var text: String
    }

    /// The `<img>…</img>` block for an image of `tiles` tiles.
    public func imageBlock(tiles: Int) -> String {
        let count = imageTokensPerTile * tiles
        var block = Self.imageStartToken
        block.reserveCapacity(block.utf8.count + count * Self.imageContextToken.utf8.count + 6)
        for _ in 0..<count { block += Self.imageContextToken }
        return block + Self.imageEndToken
    }

    /// The prompt of one `chat()` call.
    ///
    /// - Parameters:
    ///   - question: the user's text.
    ///   - history: earlier rounds, or nil for a first round (only then is `<image>\n` prepended, and only when
    ///     there are images and the question has no `<image>`).
    ///   - imageTileCounts: tiles per image in order (`num_patches_list`); `[]` without images; one entry with
    ///     all tiles for "combined" images in a single block.
    /// - Throws: `TokenizerError.invalidPrompt` when a tile count is negative or there are more images than
    ///   `<image>` placeholders (the reference would fail later, in generation).
    public func chatPrompt(question: String, history: [Turn]? = nil, imageTileCounts: [Int] = []) throws -> ChatPrompt {
        var question = question
        if history == nil && !imageTileCounts.isEmpty
            && !PythonStringSemantics.contains(Self.imagePlaceholder, in: question)
        {
            question = Self.imagePlaceholder + "\n" + question
        }
        var messages: [(role: ChatTemplate.Role, text: String?)] = []
        for turn in history ?? [] {
            messages.append((.user, turn.question))
            messages.append((.assistant, turn.answer))
        }
        messages.append((.user, question))
        messages.append((.assistant, nil))
        let text = try expandImages(in: template.render(systemMessage: systemMessage, messages: messages),
                                    imageTileCounts: imageTileCounts)
        return ChatPrompt(question: question, text: text)
    }

    /// The prompts of one `batch_chat()` call: one single-turn prompt per question, each with its own image
    /// (`imageTileCounts[i]` tiles); pass nil for text-only questions.
    public func batchPrompts(questions: [String], imageTileCounts: [Int]?) throws -> [String] {
        if let counts = imageTileCounts, counts.count != questions.count {
            throw TokenizerError.invalidPrompt(
                reason: "batch has \(questions.count) questions but \(counts.count) entries in num_patches_list")
        }
        return try questions.enumerated().map { index, question in
            var question = question
            let counts = imageTileCounts.map { [$0[index]] } ?? []
            if imageTileCounts != nil && !PythonStringSemantics.contains(Self.imagePlaceholder, in: question) {
                question = Self.imagePlaceholder + "\n" + question
            }
            let prompt = template.render(systemMessage: systemMessage, messages: [(.user, question), (.assistant, nil)])
            return try expandImages(in: prompt, imageTileCounts: counts)
        }
    }

    /// Replaces the first remaining `<image>` once per image, in order.
    public func expandImages(in prompt: String, imageTileCounts: [Int]) throws -> String {
        var prompt = prompt
        for (index, tiles) in imageTileCounts.enumerated() {
            guard tiles >= 0 else {
                throw TokenizerError.invalidPrompt(reason: "image \(index + 1) has a negative tile count (\(tiles))")
            }
            guard PythonStringSemantics.contains(Self.imagePlaceholder, in: prompt) else {
                throw TokenizerError.invalidPrompt(
                    reason: "\(imageTileCounts.count) images but only \(index) <image> placeholders in the prompt")
            }
            prompt = PythonStringSemantics.replaceFirst(Self.imagePlaceholder, with: imageBlock(tiles: tiles), in: prompt)
        }
        return prompt
    }

    /// The model card's multi-image convention: `Image-1: <image>\nImage-2: <image>\n…` before the question.
    public static func multiImageQuestion(_ question: String, imageCount: Int) -> String {
        (0..<imageCount).map { "Image-\($0 + 1): \(imagePlaceholder)\n" }.joined() + question
    }

    /// The model card's video convention: `Frame1: <image>\nFrame2: <image>\n…` before the question.
    public static func videoQuestion(_ question: String, frameCount: Int) -> String {
        (0..<frameCount).map { "Frame\($0 + 1): \(imagePlaceholder)\n" }.joined() + question
    }

    /// The question `internvl run` sends for `imageCount` separate images: unchanged when it already has an
    /// `<image>` placeholder or there is at most one image (then `chat()` prepends `<image>\n` itself),
    /// otherwise with the `Image-N:` lines prepended.
    public static func questionForImages(_ question: String, imageCount: Int) -> String {
        if imageCount <= 1 || PythonStringSemantics.contains(imagePlaceholder, in: question) { return question }
        return multiImageQuestion(question, imageCount: imageCount)
    }
}
