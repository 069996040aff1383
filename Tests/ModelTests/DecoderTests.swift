import Checkpoint
import Foundation
import Models
import Testing
import TestSupport

@Suite("InternLM2 decoder stages and KV cache")
struct DecoderTests {
    func promptIDs() throws -> [Int] { try #require(try goldenSequence("text_only")).inputIDs }

    @Test("layers 0..<1 then 1..<2 equal 0..<2 exactly, in prefill and in decode")
    func layerRangeSplit() throws {
        let store = try CheckpointStoreLoader.store()
        let llm = try CheckpointStoreLoader.configuration().llm
        #expect(llm.layerCount == 2)
        let whole = try DecoderStage(store: store, configuration: llm, layers: 0..<2)
        let first = try DecoderStage(store: store, configuration: llm, layers: 0..<1)
        let second = try DecoderStage(store: store, configuration: llm, layers: 1..<2)
        #expect(first.holdsEmbeddings && !first.holdsHead)
        #expect(!second.holdsEmbeddings && second.holdsHead)
        let ids = try promptIDs()
        let wholeCache = whole.makeCache(capacity: ids.count + 2)
        let firstCache = first.makeCache(capacity: ids.count + 2)
        let secondCache = second.makeCache(capacity: ids.count + 2)
        var inputs = try whole.embed(ids)
        #expect(try first.embed(ids) == inputs)
        #expect(try first.forward(tokenIDs: ids, cache: first.makeCache(capacity: ids.count))
                == first.forward(inputs, cache: first.makeCache(capacity: ids.count)))
        for step in 0..<3 {
            let together = try whole.forward(inputs, cache: wholeCache)
            let split = try second.forward(first.forward(inputs, cache: firstCache), cache: secondCache)
            #expect(split == together, "step \(step)")
            #expect(try second.logits(split) == whole.logits(together))
            inputs = try whole.embed([Sampler.argmax(whole.logits(together))])
        }
        #expect(throws: ModelError.stageLacks(part: "output head", layers: 0..<1)) { _ = try first.logits(inputs) }
        #expect(throws: ModelError.stageLacks(part: "token embeddings", layers: 1..<2)) { _ = try second.embed(ids) }
    }

    @Test("a KV-cache decode step equals a full re-prefill; a chunked prefill equals one prefill")
    func cacheMatchesRecompute() throws {
        let model = try loadTinyModel()
        let ids = try promptIDs()
        let n = ids.count - 1
        let cache = model.makeCache(capacity: ids.count)
        _ = try model.prefill(tokenIDs: Array(ids.prefix(n)), cache: cache)
        let stepped = try model.decodeStep(tokenID: ids[n], cache: cache)
        let recomputed = try model.prefill(tokenIDs: ids, cache: model.makeCache(capacity: ids.count))
        #expect(maxAbsDifference(stepped, recomputed) <= 1e-4)

        let chunkCache = model.makeCache(capacity: ids.count)
        _ = try model.prefill(tokenIDs: Array(ids.prefix(50)), cache: chunkCache)
        let chunked = try model.prefill(tokenIDs: Array(ids.suffix(from: 50)), cache: chunkCache)
        #expect(chunkCache.length == ids.count)
        #expect(maxAbsDifference(chunked, recomputed) <= 1e-4)
    }

    @Test("a full cache is refused with its capacity in the error")
    func cacheCapacity() throws {
        let model = try loadTinyModel()
        let cache = model.makeCache(capacity: 4)
        #expect(throws: ModelError.cacheFull(capacity: 4, requested: 5)) {
            _ = try model.prefill(tokenIDs: [1, 2, 3, 4, 5], cache: cache)
        }
        #expect(cache.length == 0)
    }

    @Test("image rows are spliced at <IMG_CONTEXT> positions in order; counts must match exactly")
    func imageSplice() throws {
        let model = try loadTinyModel()
        let vocabulary = try GoldenVocabulary.load()
        let h = model.configuration.llm.hiddenSize
        let ids = [1, vocabulary.imageContext, 7, vocabulary.imageContext, 9]
        let rows: [Float] = (0..<(2 * h)).map { Float($0) }
        var embeddings = try model.embed(ids)
        let original = embeddings
        try model.spliceImageEmbeddings(rows, into: &embeddings, tokenIDs: ids, imageContextTokenID: vocabulary.imageContext)
        #expect(Array(embeddings[h..<(2 * h)]) == Array(rows[0..<h]))
        #expect(Array(embeddings[(3 * h)..<(4 * h)]) == Array(rows[h..<(2 * h)]))
        for position in [0, 2, 4] {
            #expect(Array(embeddings[(position * h)..<((position + 1) * h)]) == Array(original[(position * h)..<((position + 1) * h)]))
        }
        #expect(throws: ModelError.imageTokenCountMismatch(contextTokens: 2, embeddingRows: 3)) {
            _ = try model.prefill(tokenIDs: ids, imageEmbeddings: rows + rows[0..<h], imageContextTokenID: vocabulary.imageContext,
                                  cache: model.makeCache(capacity: 8))
        }
        #expect(throws: ModelError.tokenOutOfRange(id: vocabulary.vocabularySize, vocabularySize: vocabulary.vocabularySize)) {
            _ = try model.embed([vocabulary.vocabularySize])
        }
    }
}

@Suite("checkpoint completeness")
struct CheckpointCompletenessTests {
    /// Copies the tiny checkpoint into a temporary directory, dropping `drop` and adding `extra` tensors.
    func copyCheckpoint(drop: Set<String> = [], extra: [String: [Float]] = [:]) throws -> URL {
        let store = try CheckpointStoreLoader.store()
        let directory = try Fixtures.temporaryDirectory("models-checkpoint")
        try FileManager.default.copyItem(at: Fixtures.tinyModel.appendingPathComponent("config.json"),
                                         to: directory.appendingPathComponent("config.json"))
        var entries: [SafetensorsWriter.Entry] = []
        for name in store.tensors.keys.sorted() where !drop.contains(name) {
            let tensor = try store.tensor(name)
            entries.append(.init(name: name, dtype: tensor.dtype, shape: tensor.info.shape, floats: tensor.floats()))
        }
        for (name, values) in extra { entries.append(.init(name: name, dtype: .bf16, shape: [values.count], floats: values)) }
        try SafetensorsWriter.write(entries, to: directory.appendingPathComponent(CheckpointStore.singleFileName))
        return directory
    }

    @Test("a stored tensor the model does not use fails the load, naming it")
    func unusedTensor() throws {
        let directory = try copyCheckpoint(extra: ["language_model.model.layers.0.attention.rotary_emb.inv_freq": [1, 2]])
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try InternVLModel(directory: directory)
            Issue.record("expected the load to fail")
        } catch let error as ModelError {
            #expect(error.description.contains("rotary_emb.inv_freq"))
            #expect(error.description.contains("model.safetensors"))
        }
    }

    @Test("a missing tensor fails the load, naming it")
    func missingTensor() throws {
        let directory = try copyCheckpoint(drop: ["vision_model.encoder.layers.1.ls2"])
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try InternVLModel(directory: directory)
            Issue.record("expected the load to fail")
        } catch let error as CheckpointError {
            #expect(error.description.contains("vision_model.encoder.layers.1.ls2"))
        }
    }
}
