import Foundation
import Models
import Testing
import TestSupport

/// Every LLM sequence of the golden set: each chat case, each round of the two-round cases, each batch row.
let languageSequenceTags = [
    "text_only", "text_two_round_r0", "text_two_round_r1", "single_image", "auto_image_prefix", "two_images",
    "combined_images", "video_8_frames", "image_two_round_r0", "image_two_round_r1",
    "batch_two_images_row0", "batch_two_images_row1",
]

/// Logit tolerance from the fixture README.
let logitTolerance: Float = 1e-3
/// Below this top-1/top-2 margin the golden argmax may legitimately flip.
let marginFloor = 1e-3

@Suite("InternLM2 goldens")
struct LanguageGoldenTests {
    @Test("the test list covers every chat round and batch row of the manifest")
    func coversEveryCase() throws {
        #expect(Set(try goldenSequences().keys) == Set(languageSequenceTags))
    }

    @Test("prefill and teacher-forced step logits match the reference", arguments: languageSequenceTags)
    func teacherForced(tag: String) throws {
        let sequence = try #require(try goldenSequence(tag))
        let vocabulary = try GoldenVocabulary.load()
        let model = try loadTinyModel()
        let cache = model.makeCache(capacity: sequence.inputIDs.count + sequence.generatedIDs.count)
        let imageID = sequence.imageEmbeddings.isEmpty ? nil : vocabulary.imageContext
        var logits: [Float]
        if let all = sequence.prefillLogitsAll {
            let everyPosition = try model.prefill(tokenIDs: sequence.inputIDs, imageEmbeddings: sequence.imageEmbeddings,
                                                  imageContextTokenID: imageID, cache: cache, allPositions: true)
            #expect(maxAbsDifference(everyPosition, all) <= logitTolerance, "\(tag) prefill_logits_all")
            logits = Array(everyPosition.suffix(vocabulary.vocabularySize))
        } else {
            logits = try model.prefill(tokenIDs: sequence.inputIDs, imageEmbeddings: sequence.imageEmbeddings,
                                       imageContextTokenID: imageID, cache: cache)
        }
        #expect(maxAbsDifference(logits, sequence.prefillLogitsLast) <= logitTolerance, "\(tag) prefill_logits_last")
        for step in sequence.generatedIDs.indices {
            if step > 0 { logits = try model.decodeStep(tokenID: sequence.generatedIDs[step - 1], cache: cache) }
            let difference = maxAbsDifference(logits, sequence.stepLogits[step])
            #expect(difference <= logitTolerance, "\(tag) step \(step): max |Δ| \(difference)")
            if sequence.stepMargin[step] > marginFloor {
                #expect(Sampler.argmax(logits) == sequence.stepTop1[step], "\(tag) step \(step) argmax")
            }
        }
    }

    @Test("free-running greedy reproduces generated_ids up to the first near-tie", arguments: languageSequenceTags)
    func greedy(tag: String) throws {
        let sequence = try #require(try goldenSequence(tag))
        let vocabulary = try GoldenVocabulary.load()
        let model = try loadTinyModel()
        var streamed: [Int] = []
        let result = try model.generate(
            tokenIDs: sequence.inputIDs, imageEmbeddings: sequence.imageEmbeddings,
            imageContextTokenID: sequence.imageEmbeddings.isEmpty ? nil : vocabulary.imageContext,
            parameters: GenerationParameters(maxNewTokens: 24, stopTokenIDs: [vocabulary.chatEOS])) { token in
                streamed.append(token)
                return true
            }
        #expect(streamed == result.tokens)
        if let nearTie = sequence.stepMargin.firstIndex(where: { $0 < marginFloor }) {
            #expect(Array(result.tokens.prefix(nearTie)) == Array(sequence.generatedIDs.prefix(nearTie)))
        } else {
            #expect(result.tokens == sequence.generatedIDs)
            let endsOnEOS = sequence.generatedIDs.last == vocabulary.chatEOS
            #expect(result.stop == (endsOnEOS ? .stopToken : .maxNewTokens))
        }
    }

    @Test("per-layer residual stream of text_only matches llm_hidden_states")
    func hiddenStates() throws {
        let sequence = try #require(try goldenSequence("text_only"))
        let reference = try golden("arrays/text_only_llm_hidden_states.npy")
        let model = try loadTinyModel()
        let layerCount = model.configuration.llm.layerCount
        #expect(reference.shape == [layerCount + 1, 1, sequence.inputIDs.count, model.configuration.llm.hiddenSize])
        let size = sequence.inputIDs.count * model.configuration.llm.hiddenSize
        func check(_ values: [Float], _ index: Int) {
            let expected = Array(reference.values[(index * size)..<((index + 1) * size)])
            let tolerance = 2e-4 * max(1, maxAbs(expected))
            #expect(maxAbsDifference(values, expected) <= tolerance, "hidden state \(index)")
        }
        var hidden = try model.embed(sequence.inputIDs)
        check(hidden, 0)
        let store = try CheckpointStoreLoader.store()
        for layer in 0..<layerCount {
            let stage = try DecoderStage(store: store, configuration: model.configuration.llm, layers: layer..<(layer + 1))
            hidden = try stage.forward(hidden, cache: stage.makeCache(capacity: sequence.inputIDs.count))
            if layer < layerCount - 1 { check(hidden, layer + 1) }
        }
        check(try model.language.normalize(hidden), layerCount)
    }
}
