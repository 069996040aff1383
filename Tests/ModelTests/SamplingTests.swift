import Foundation
import Models
import Testing

@Suite("sampling")
struct SamplingTests {
    /// Deterministic pseudo-random logits for the tests.
    func logits(_ seed: UInt64, count: Int = 200) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(generator.nextUnit() * 8 - 4) }
    }

    @Test("a fixed seed reproduces the same tokens; another seed gives another stream")
    func reproducible() throws {
        func draw(seed: UInt64) throws -> [Int] {
            var sampler = try Sampler(parameters: SamplingParameters(temperature: 1.5, seed: seed))
            return (0..<64).map { sampler.sample(logits(UInt64($0)), seen: []) }
        }
        let first = try draw(seed: 42)
        #expect(first == (try draw(seed: 42)))
        #expect(first != (try draw(seed: 43)))
        #expect(Set(first).count > 10)
    }

    @Test("top-k 1 and a tiny top-p are greedy")
    func greedyLimits() throws {
        var topK = try Sampler(parameters: SamplingParameters(temperature: 0.7, topK: 1, seed: 7))
        var topP = try Sampler(parameters: SamplingParameters(topP: 1e-6, seed: 9))
        for seed in 0..<50 as Range<UInt64> {
            let values = logits(seed)
            #expect(topK.sample(values, seen: []) == Sampler.argmax(values))
            #expect(topP.sample(values, seen: []) == Sampler.argmax(values))
        }
    }

    @Test("top-k keeps exactly the k largest; top-p keeps the smallest set reaching p")
    func filters() throws {
        let values: [Float] = [1, 4, 2, 3]   // softmax ≈ 0.032, 0.644, 0.087, 0.237
        let k2 = try Sampler(parameters: SamplingParameters(topK: 2)).probabilities(values, seen: [])
        #expect(k2[0] == 0 && k2[2] == 0 && k2[1] > k2[3] && k2[3] > 0)
        let p80 = try Sampler(parameters: SamplingParameters(topP: 0.8)).probabilities(values, seen: [])
        #expect(p80[0] == 0 && p80[2] == 0 && p80[1] > 0 && p80[3] > 0)
        let p60 = try Sampler(parameters: SamplingParameters(topP: 0.6)).probabilities(values, seen: [])
        #expect(p60 == [0, 1, 0, 0])
    }

    @Test("repetition penalty divides positive and multiplies negative logits of seen tokens, once per token")
    func repetitionPenalty() throws {
        var values: [Float] = [2, -2, 1, 3]
        Sampler.applyRepetitionPenalty(&values, penalty: 2, seen: [0, 1, 1, 1])
        #expect(values == [1, -4, 1, 3])
        let sampler = try Sampler(parameters: SamplingParameters(repetitionPenalty: 2))
        let p = sampler.probabilities([2, -2, 1, 3], seen: [3, 1])
        let penalised: [Double] = [2, -4, 1, 1.5]
        let total = penalised.map { Foundation.exp($0) }.reduce(0, +)
        for i in 0..<4 { #expect(abs(Double(p[i]) - Foundation.exp(penalised[i]) / total) <= 1e-6) }
    }

    @Test("parameters out of range are refused, naming the parameter")
    func validation() {
        #expect(throws: ModelError.self) { _ = try Sampler(parameters: SamplingParameters(temperature: 0)) }
        #expect(throws: ModelError.self) { _ = try Sampler(parameters: SamplingParameters(topP: 0)) }
        do {
            _ = try Sampler(parameters: SamplingParameters(topK: -1))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("top_k"))
        }
    }
}

@Suite("generation with the tiny model")
struct GenerationTests {
    @Test("sampling with top-k 1 generates the greedy tokens; the callback streams them and can stop early")
    func topKOneIsGreedy() throws {
        let model = try loadTinyModel()
        let vocabulary = try GoldenVocabulary.load()
        let ids = try #require(try goldenSequence("text_only")).inputIDs
        let greedy = try model.generate(tokenIDs: ids, parameters: GenerationParameters(maxNewTokens: 24, stopTokenIDs: [vocabulary.chatEOS]))
        #expect(greedy.stop == .stopToken && greedy.tokens.last == vocabulary.chatEOS)
        let sampled = try model.generate(
            tokenIDs: ids,
            parameters: GenerationParameters(maxNewTokens: 24, stopTokenIDs: [vocabulary.chatEOS],
                                             sampling: SamplingParameters(temperature: 0.8, topK: 1, seed: 5)))
        #expect(sampled.tokens == greedy.tokens)
        var streamed: [Int] = []
        let cancelled = try model.generate(tokenIDs: ids, parameters: GenerationParameters(maxNewTokens: 24, stopTokenIDs: [])) {
            streamed.append($0)
            return streamed.count < 3
        }
        #expect(cancelled.stop == .cancelled)
        #expect(cancelled.tokens == streamed && streamed == Array(greedy.tokens.prefix(3)))
        let short = try model.generate(tokenIDs: ids, parameters: GenerationParameters(maxNewTokens: 2, stopTokenIDs: []))
        #expect(short.stop == .maxNewTokens && short.tokens == Array(greedy.tokens.prefix(2)))
    }

    @Test("a seeded sampled generation is reproducible")
    func seededGeneration() throws {
        let model = try loadTinyModel()
        let ids = try #require(try goldenSequence("text_only")).inputIDs
        func run(_ seed: UInt64) throws -> [Int] {
            try model.generate(tokenIDs: ids, parameters: GenerationParameters(
                maxNewTokens: 12, stopTokenIDs: [],
                sampling: SamplingParameters(temperature: 1.0, topP: 0.95, repetitionPenalty: 1.1, seed: seed))).tokens
        }
        #expect(try run(11) == run(11))
    }
}
