import Foundation

/// SplitMix64: a small, fast, deterministic generator; the same seed gives the same stream on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Which tokens the repetition penalty treats as already seen.
public enum RepetitionScope: Sendable, Equatable {
    /// The prompt ids and the generated ids (transformers with `input_ids`).
    case promptAndGenerated
    /// Only the generated ids (what InternVL's `chat()` sees, since it generates from embeddings).
    case generatedOnly
}

/// Sampling settings with transformers' semantics: repetition penalty first, then temperature, top-k, top-p,
/// then a draw from the softmax with a seeded generator.
public struct SamplingParameters: Sendable, Equatable {
    /// Logits are divided by this (> 0).
    public var temperature: Float
    /// Keep the k largest logits (ties with the k-th kept); 0 disables.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches topP (at least one); 1 disables.
    public var topP: Float
    /// > 1 discourages seen tokens: positive logits divided by it, negative ones multiplied; 1 disables.
    public var repetitionPenalty: Float
    /// Which tokens count as seen for the penalty.
    public var repetitionScope: RepetitionScope
    /// Seed of the generator.
    public var seed: UInt64

    /// Settings; the defaults disable every processor.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, repetitionPenalty: Float = 1,
                repetitionScope: RepetitionScope = .promptAndGenerated, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionScope = repetitionScope
        self.seed = seed
    }

    /// Throws `ModelError.badParameter` naming the first value out of range.
    public func validate() throws {
        guard temperature > 0, temperature.isFinite else {
            throw ModelError.badParameter(name: "temperature", value: "\(temperature)", rule: "must be a finite number > 0")
        }
        guard topK >= 0 else { throw ModelError.badParameter(name: "top_k", value: "\(topK)", rule: "must be >= 0 (0 disables)") }
        guard topP > 0, topP <= 1 else { throw ModelError.badParameter(name: "top_p", value: "\(topP)", rule: "must be in (0, 1]") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw ModelError.badParameter(name: "repetition_penalty", value: "\(repetitionPenalty)", rule: "must be a finite number > 0")
        }
    }
}

/// Picks the next token from logits: greedy argmax, or seeded sampling.
public struct Sampler: Sendable {
    /// The settings.
    public let parameters: SamplingParameters
    private var generator: SplitMix64

    /// A sampler whose draws are reproducible for `parameters.seed`.
    public init(parameters: SamplingParameters) throws {
        try parameters.validate()
        self.parameters = parameters
        generator = SplitMix64(seed: parameters.seed)
    }

    /// Index of the largest value (the first one on ties, like `torch.argmax`).
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best
    }

    /// transformers' `RepetitionPenaltyLogitsProcessor`: each distinct seen token's logit is divided by `penalty`
    /// when positive, multiplied by it when negative.
    public static func applyRepetitionPenalty(_ logits: inout [Float], penalty: Float, seen: [Int]) {
        guard penalty != 1 else { return }
        for id in Set(seen) where logits.indices.contains(id) {
            logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty
        }
    }

    /// The processed distribution the sampler draws from (penalty, temperature, top-k, top-p, softmax);
    /// removed tokens have probability 0.
    public func probabilities(_ logits: [Float], seen: [Int]) -> [Float] {
        var scores = logits
        Self.applyRepetitionPenalty(&scores, penalty: parameters.repetitionPenalty, seen: seen)
        if parameters.temperature != 1 { scores = scores.map { $0 / parameters.temperature } }
        if parameters.topK > 0 {
            let k = min(parameters.topK, scores.count)
            let threshold = scores.sorted(by: >)[k - 1]
            scores = scores.map { $0 < threshold ? -.infinity : $0 }
        }
        if parameters.topP < 1 {
            // transformers: sort ascending, drop tokens whose cumulative probability is <= 1 - topP, keep the last.
            let order = scores.indices.sorted { scores[$0] < scores[$1] }
            let sortedProbabilities = Self.softmax(order.map { scores[$0] })
            var cumulative: Double = 0
            for (rank, id) in order.enumerated() where rank < order.count - 1 {
                cumulative += Double(sortedProbabilities[rank])
                if cumulative <= Double(1 - parameters.topP) { scores[id] = -.infinity }
            }
        }
        return Self.softmax(scores)
    }

    /// Draws the next token from `logits`, given the tokens seen so far (for the repetition penalty).
    public mutating func sample(_ logits: [Float], seen: [Int]) -> Int {
        let distribution = probabilities(logits, seen: seen)
        let u = generator.nextUnit()
        var cumulative: Double = 0
        var last = 0
        for (id, p) in distribution.enumerated() where p > 0 {
            cumulative += Double(p)
            last = id
            if u < cumulative { return id }
        }
        return last
    }

    static func softmax(_ values: [Float]) -> [Float] {
        guard let maximum = values.max(), maximum > -.infinity else { return values.map { _ in 0 } }
        let exps = values.map { Double($0 - maximum).exp }
        let sum = exps.reduce(0, +)
        return exps.map { Float($0 / sum) }
    }
}

extension Double {
    fileprivate var exp: Double { Foundation.exp(self) }
}
