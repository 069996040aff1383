/// One prompt of a batched generation: its token ids, the image rows spliced at its `<IMG_CONTEXT>` positions
/// (if any), and its own stop, length and sampling settings.
public struct GenerationInput: Sendable {
    /// The prompt ids (BOS included).
    public var tokenIDs: [Int]
    /// [m, H] image embeddings for the m `<IMG_CONTEXT>` positions; empty for a text prompt.
    public var imageEmbeddings: [Float]
    /// The id of `<IMG_CONTEXT>`; required when `imageEmbeddings` is not empty.
    public var imageContextTokenID: Int?
    /// Length, stop tokens and sampling of this prompt.
    public var parameters: GenerationParameters

    /// A prompt to generate for.
    public init(tokenIDs: [Int], imageEmbeddings: [Float] = [], imageContextTokenID: Int? = nil,
                parameters: GenerationParameters) {
        self.tokenIDs = tokenIDs
        self.imageEmbeddings = imageEmbeddings
        self.imageContextTokenID = imageContextTokenID
        self.parameters = parameters
    }
}

extension InternVLModel {
    /// Generates for several independent prompts together: one batched prefill of every prompt, then decode
    /// steps in which every unfinished sequence feeds its last token through one batched forward call (each
    /// weight read once per step for all of them). A sequence leaves the batch when it emits a stop token or
    /// reaches its `maxNewTokens`; the others go on. Each result is what ``generate(tokenIDs:imageEmbeddings:imageContextTokenID:parameters:onToken:)``
    /// gives for that prompt alone, up to matmul rounding. `onPrefilled` is called once, after the prefill.
    public func generate(batch inputs: [GenerationInput], onPrefilled: () -> Void = {}) throws -> [GenerationResult] {
        guard !inputs.isEmpty else { return [] }
        var samplers: [Sampler?] = []
        var items: [DecoderBatchItem] = []
        for (index, input) in inputs.enumerated() {
            guard input.parameters.maxNewTokens >= 1 else {
                throw ModelError.badParameter(name: "max_new_tokens", value: "\(input.parameters.maxNewTokens)",
                                              rule: "must be >= 1 (batch item \(index))")
            }
            samplers.append(try input.parameters.sampling.map(Sampler.init))
            var embeddings = try embed(input.tokenIDs)
            if let imageContextTokenID = input.imageContextTokenID {
                try spliceImageEmbeddings(input.imageEmbeddings, into: &embeddings, tokenIDs: input.tokenIDs,
                                          imageContextTokenID: imageContextTokenID)
            } else if !input.imageEmbeddings.isEmpty {
                throw ModelError.badParameter(name: "imageContextTokenID", value: "nil",
                                              rule: "is required when image embeddings are given (batch item \(index))")
            }
            items.append(DecoderBatchItem(hiddenStates: embeddings,
                                          cache: makeCache(capacity: input.tokenIDs.count + input.parameters.maxNewTokens)))
        }
        var logits = try language.logits(lastRowsOf: language.forward(batch: items))
        onPrefilled()

        var generated = Array(repeating: [Int](), count: inputs.count)
        var stops = Array(repeating: GenerationStop.maxNewTokens, count: inputs.count)
        var active = Array(inputs.indices)
        while true {
            var continuing: [Int] = []
            for (slot, index) in active.enumerated() {
                let input = inputs[index]
                let token: Int
                if var sampler = samplers[index] {
                    let seen = sampler.parameters.repetitionScope == .promptAndGenerated
                        ? input.tokenIDs + generated[index] : generated[index]
                    token = sampler.sample(logits[slot], seen: seen)
                    samplers[index] = sampler
                } else {
                    token = Sampler.argmax(logits[slot])
                }
                generated[index].append(token)
                if input.parameters.stopTokenIDs.contains(token) {
                    stops[index] = .stopToken
                } else if generated[index].count < input.parameters.maxNewTokens {
                    continuing.append(index)
                }
            }
            active = continuing
            if active.isEmpty { break }
            let steps = try active.map { index in
                DecoderBatchItem(hiddenStates: try embed([generated[index].last!]), cache: items[index].cache)
            }
            logits = try language.logits(lastRowsOf: language.forward(batch: steps))
        }
        return inputs.indices.map { GenerationResult(tokens: generated[$0], stop: stops[$0]) }
    }
}
