/// Settings of one generation.
public struct GenerationParameters: Sendable {
    /// Stop after this many new tokens.
    public var maxNewTokens: Int
    /// Stop right after emitting one of these (it is included in the output). Chat uses `<|im_end|>` only.
    public var stopTokenIDs: Set<Int>
    /// Sampling settings; nil means greedy (argmax of the raw logits).
    public var sampling: SamplingParameters?

    /// Settings; greedy unless `sampling` is given.
    public init(maxNewTokens: Int, stopTokenIDs: Set<Int>, sampling: SamplingParameters? = nil) {
        self.maxNewTokens = maxNewTokens
        self.stopTokenIDs = stopTokenIDs
        self.sampling = sampling
    }
}

/// Why a generation ended.
public enum GenerationStop: Sendable, Equatable {
    /// A stop token was emitted (it is the last output token).
    case stopToken
    /// `maxNewTokens` were emitted.
    case maxNewTokens
    /// The token callback asked to stop.
    case cancelled
}

/// The new tokens of one generation and why it ended.
public struct GenerationResult: Sendable, Equatable {
    /// Generated ids (a final stop token included).
    public var tokens: [Int]
    /// Why generation ended.
    public var stop: GenerationStop
}

extension InternVLModel {
    /// Generates up to `parameters.maxNewTokens` tokens after the prompt `tokenIDs` (image embeddings spliced at
    /// `<IMG_CONTEXT>` positions when given). `onToken` is called with each new token as soon as it is chosen and
    /// returns false to stop early (streaming, cancellation).
    public func generate(tokenIDs: [Int], imageEmbeddings: [Float] = [], imageContextTokenID: Int? = nil,
                         parameters: GenerationParameters, onToken: (Int) -> Bool = { _ in true }) throws -> GenerationResult {
        guard parameters.maxNewTokens >= 1 else {
            throw ModelError.badParameter(name: "max_new_tokens", value: "\(parameters.maxNewTokens)", rule: "must be >= 1")
        }
        var sampler = try parameters.sampling.map(Sampler.init)
        let cache = makeCache(capacity: tokenIDs.count + parameters.maxNewTokens)
        var logits = try prefill(tokenIDs: tokenIDs, imageEmbeddings: imageEmbeddings,
                                 imageContextTokenID: imageContextTokenID, cache: cache)
        var generated: [Int] = []
        while true {
            let token: Int
            if var active = sampler {
                let seen = active.parameters.repetitionScope == .promptAndGenerated ? tokenIDs + generated : generated
                token = active.sample(logits, seen: seen)
                sampler = active
            } else {
                token = Sampler.argmax(logits)
            }
            generated.append(token)
            let keepGoing = onToken(token)
            if parameters.stopTokenIDs.contains(token) { return GenerationResult(tokens: generated, stop: .stopToken) }
            if generated.count == parameters.maxNewTokens { return GenerationResult(tokens: generated, stop: .maxNewTokens) }
            if !keepGoing { return GenerationResult(tokens: generated, stop: .cancelled) }
            logits = try decodeStep(tokenID: token, cache: cache)
        }
    }
}
