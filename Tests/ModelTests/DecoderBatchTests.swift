import Checkpoint
import Foundation
import Models
import Testing
import TestSupport

@Suite("InternLM2 batched forward over several sequences")
struct DecoderBatchTests {
    /// The prompt of golden sequence `tag` as decoder input rows (token embeddings, image rows spliced in).
    func promptRows(_ sequence: GoldenSequence, model: InternVLModel, vocabulary: GoldenVocabulary) throws -> [Float] {
        var rows = try model.embed(sequence.inputIDs)
        if !sequence.imageEmbeddings.isEmpty {
            try model.spliceImageEmbeddings(sequence.imageEmbeddings, into: &rows, tokenIDs: sequence.inputIDs,
                                            imageContextTokenID: vocabulary.imageContext)
        }
        return rows
    }

    @Test("every golden sequence in ONE batch: first-step logits, then batched greedy decoding with its own stops")
    func goldenSequencesAsOneBatch() throws {
        let model = try loadTinyModel()
        let stage = model.language
        let vocabulary = try GoldenVocabulary.load()
        let sequences = try languageSequenceTags.map { try #require(try goldenSequence($0)) }
        let caches = sequences.map { model.makeCache(capacity: $0.inputIDs.count + $0.generatedIDs.count) }
        let prompts = try sequences.map { try promptRows($0, model: model, vocabulary: vocabulary) }
        #expect(Set(sequences.map(\.inputIDs.count)).count > 3, "prompts of different lengths")

        var logits = try stage.logits(lastRowsOf: stage.forward(batch: zip(prompts, caches).map {
            DecoderBatchItem(hiddenStates: $0, cache: $1)
        }))
        for (index, sequence) in sequences.enumerated() {
            let difference = maxAbsDifference(logits[index], sequence.prefillLogitsLast)
            #expect(difference <= logitTolerance, "\(sequence.tag) prefill_logits_last max |Δ| \(difference)")
            #expect(caches[index].length == sequence.inputIDs.count)
        }

        var generated = Array(repeating: [Int](), count: sequences.count)
        var active = Array(sequences.indices)
        var batchSizes: [Int] = []
        while !active.isEmpty {
            batchSizes.append(active.count)
            var continuing: [Int] = []
            for (slot, index) in active.enumerated() {
                let sequence = sequences[index]
                let step = generated[index].count
                if generated[index] == Array(sequence.generatedIDs.prefix(step)) {
                    let difference = maxAbsDifference(logits[slot], sequence.stepLogits[step])
                    #expect(difference <= logitTolerance, "\(sequence.tag) step \(step): max |Δ| \(difference)")
                }
                let token = Sampler.argmax(logits[slot])
                generated[index].append(token)
                if token != vocabulary.chatEOS && generated[index].count < sequence.generatedIDs.count {
                    continuing.append(index)
                }
            }
            active = continuing
            guard !active.isEmpty else { break }
            let items = try active.map { index in
                DecoderBatchItem(hiddenStates: try stage.embed([generated[index].last!]), cache: caches[index])
            }
            logits = try stage.logits(lastRowsOf: stage.forward(batch: items))
        }
        // Sequences left the batch at different steps (the batch shrank while others kept decoding).
        #expect(Set(batchSizes).count > 1)
        for (index, sequence) in sequences.enumerated() {
            if let nearTie = sequence.stepMargin.firstIndex(where: { $0 < marginFloor }) {
                #expect(Array(generated[index].prefix(nearTie)) == Array(sequence.generatedIDs.prefix(nearTie)), "\(sequence.tag)")
            } else {
                #expect(generated[index] == sequence.generatedIDs, "\(sequence.tag)")
            }
        }
    }

    @Test("a prefill split in two chunks (past > 0), batched with other sequences, equals the one-shot prefill")
    func chunkedPrefillInBatch() throws {
        let model = try loadTinyModel()
        let stage = model.language
        let h = model.configuration.llm.hiddenSize
        let a = try #require(try goldenSequence("text_only")).inputIDs
        let b = try #require(try goldenSequence("text_two_round_r1")).inputIDs
        let c = try #require(try goldenSequence("text_two_round_r0")).inputIDs
        let split = a.count / 3
        func oneShot(_ ids: [Int]) throws -> [Float] {
            try stage.forward(stage.embed(ids), cache: stage.makeCache(capacity: ids.count + 1))
        }
        let wholeA = try oneShot(a), wholeB = try oneShot(b), wholeC = try oneShot(c)

        let cacheA = stage.makeCache(capacity: a.count), cacheB = stage.makeCache(capacity: b.count + 1)
        let cacheC = stage.makeCache(capacity: c.count + 1)
        let first = try stage.forward(batch: [
            DecoderBatchItem(hiddenStates: stage.embed(Array(a[..<split])), cache: cacheA),
            DecoderBatchItem(hiddenStates: stage.embed(b), cache: cacheB),
            DecoderBatchItem(hiddenStates: stage.embed(c), cache: cacheC),
        ])
        #expect(cacheA.length == split && cacheB.length == b.count && cacheC.length == c.count)
        let second = try stage.forward(batch: [
            DecoderBatchItem(hiddenStates: stage.embed([7]), cache: cacheC),
            DecoderBatchItem(hiddenStates: stage.embed(Array(a[split...])), cache: cacheA),
            DecoderBatchItem(hiddenStates: stage.embed([9]), cache: cacheB),
        ])
        #expect(cacheA.length == a.count && cacheB.length == b.count + 1 && cacheC.length == c.count + 1)
        #expect(first.map(\.count) == [split * h, b.count * h, c.count * h])
        #expect(second.map(\.count) == [h, (a.count - split) * h, h])

        let chunked = first[0] + second[1]
        let tolerance: Float = 1e-5 * max(1, maxAbs(wholeA))
        #expect(maxAbsDifference(chunked, wholeA) <= tolerance, "chunked hidden max |Δ| \(maxAbsDifference(chunked, wholeA))")
        let logits = try stage.logits(lastRowsOf: [chunked, wholeA])
        #expect(maxAbsDifference(logits[0], logits[1]) <= 1e-5, "chunked logits max |Δ| \(maxAbsDifference(logits[0], logits[1]))")
        #expect(maxAbsDifference(first[1], wholeB) <= 1e-5 * max(1, maxAbs(wholeB)))
        #expect(maxAbsDifference(first[2], wholeC) <= 1e-5 * max(1, maxAbs(wholeC)))
        // The decode rows continue their own sequences: equal to a single-sequence step on a copy of the history.
        let soloC = stage.makeCache(capacity: c.count + 1)
        _ = try stage.forward(stage.embed(c), cache: soloC)
        let stepC = try stage.forward(stage.embed([7]), cache: soloC)
        #expect(maxAbsDifference(second[0], stepC) <= 1e-5 * max(1, maxAbs(stepC)))
    }

    @Test("layers [0,1) then [1,2) batched equal [0,2) batched, in prefill and decode")
    func stageSplitBatched() throws {
        let store = try CheckpointStoreLoader.store()
        let llm = try CheckpointStoreLoader.configuration().llm
        let whole = try DecoderStage(store: store, configuration: llm, layers: 0..<2)
        let first = try DecoderStage(store: store, configuration: llm, layers: 0..<1)
        let second = try DecoderStage(store: store, configuration: llm, layers: 1..<2)
        let prompts = [try #require(try goldenSequence("text_only")).inputIDs,
                       try #require(try goldenSequence("text_two_round_r0")).inputIDs,
                       [1, 5, 9]]
        let capacity = prompts.map(\.count).max()! + 3
        let wholeCaches = prompts.map { _ in whole.makeCache(capacity: capacity) }
        let firstCaches = prompts.map { _ in first.makeCache(capacity: capacity) }
        let secondCaches = prompts.map { _ in second.makeCache(capacity: capacity) }
        var inputs = try prompts.map { try whole.embed($0) }
        for step in 0..<3 {
            let together = try whole.forward(batch: zip(inputs, wholeCaches).map { DecoderBatchItem(hiddenStates: $0, cache: $1) })
            let middle = try first.forward(batch: zip(inputs, firstCaches).map { DecoderBatchItem(hiddenStates: $0, cache: $1) })
            let split = try second.forward(batch: zip(middle, secondCaches).map { DecoderBatchItem(hiddenStates: $0, cache: $1) })
            #expect(split == together, "step \(step)")
            let logits = try whole.logits(lastRowsOf: together)
            #expect(try second.logits(lastRowsOf: split) == logits)
            inputs = try logits.map { try whole.embed([Sampler.argmax($0)]) }
        }
        #expect(throws: ModelError.stageLacks(part: "output head", layers: 0..<1)) { _ = try first.logits(lastRowsOf: inputs) }
    }

    @Test("bad items are refused with a clear error before any cache changes")
    func validation() throws {
        let store = try CheckpointStoreLoader.store()
        let llm = try CheckpointStoreLoader.configuration().llm
        let stage = try DecoderStage(store: store, configuration: llm, layers: 0..<2)
        let other = try DecoderStage(store: store, configuration: llm, layers: 0..<1)
        let h = llm.hiddenSize
        let good = stage.makeCache(capacity: 8)
        let row = try stage.embed([3])
        func item(_ rows: [Float], _ cache: KVCache) -> DecoderBatchItem { DecoderBatchItem(hiddenStates: rows, cache: cache) }

        #expect(try stage.forward(batch: []).isEmpty)
        #expect(throws: ModelError.badShape(what: "decoder batch item 1 hidden states", expected: "[n > 0, \(h)]", got: "0 values")) {
            _ = try stage.forward(batch: [item(row, good), item([], stage.makeCache(capacity: 4))])
        }
        #expect(throws: ModelError.badShape(what: "decoder batch item 1 hidden states", expected: "[n > 0, \(h)]", got: "\(h + 1) values")) {
            _ = try stage.forward(batch: [item(row, good), item(row + [0], stage.makeCache(capacity: 4))])
        }
        do {
            _ = try stage.forward(batch: [item(row, good), item(row, other.makeCache(capacity: 4))])
            Issue.record("expected a cache layer-count error")
        } catch let error as ModelError {
            #expect(error.description.contains("KV cache of decoder batch item 1"))
            #expect(error.description.contains("2 layers"))
        }
        #expect(throws: ModelError.cacheFull(capacity: 1, requested: 2)) {
            _ = try stage.forward(batch: [item(row, good), item(row + row, stage.makeCache(capacity: 1))])
        }
        do {
            _ = try stage.forward(batch: [item(row, good), item(row, good)])
            Issue.record("expected a duplicate-cache error")
        } catch let error as ModelError {
            #expect(error.description.contains("batch[1].cache"))
        }
        #expect(good.length == 0)
        #expect(throws: ModelError.badShape(what: "hidden states 0 for logits", expected: "[n > 0, \(h)]", got: "0 values")) {
            _ = try stage.logits(lastRowsOf: [[]])
        }
    }
}
