import Foundation
import InternVL
import Models
import Testing
import TestSupport

@Suite("InternVLPipeline batched responses")
struct PipelineBatchTests {
    /// A golden chat case as a request: its question, its images (max_num 6) and greedy 24-token settings.
    struct Case {
        var tag: String
        var question: String
        var image: String?
    }

    @Test("respond(toBatch:) decodes the golden requests together: golden prompts and greedy ids, as respond(to:) gives")
    func goldenBatch() throws {
        let pipeline = try InternVLPipeline(modelDirectory: Fixtures.tinyModel)
        let cases = [
            Case(tag: "batch_two_images_row0", question: "<image>\nDescribe the image in detail.", image: "coffee_wide"),
            Case(tag: "text_only", question: "Hello, who are you?", image: nil),
            Case(tag: "batch_two_images_row1", question: "What is this?", image: "camera_gray"),
            Case(tag: "single_image", question: "<image>\nPlease describe the image shortly.", image: "grace_hopper"),
        ]
        let requests = cases.map { item in
            ChatRequest(question: item.question,
                        images: item.image.map { [.file(Fixtures.tiny.appendingPathComponent("images/\($0).png").path)] } ?? [],
                        maxTiles: 6, settings: GenerationSettings(maxNewTokens: 24))
        }
        let batch = try pipeline.respond(toBatch: requests)
        #expect(batch.count == cases.count)
        for (item, response) in zip(cases, batch) {
            let golden = try #require(try goldenSequence(item.tag))
            #expect(response.promptIDs == golden.inputIDs, "\(item.tag) prompt")
            if let nearTie = golden.stepMargin.firstIndex(where: { $0 < marginFloor }) {
                #expect(Array(response.generatedIDs.prefix(nearTie)) == Array(golden.generatedIDs.prefix(nearTie)), "\(item.tag)")
            } else {
                #expect(response.generatedIDs == golden.generatedIDs, "\(item.tag)")
            }
        }
        // text_only stops on <|im_end|> after 9 tokens while the others run to 24: they left the batch at different steps.
        #expect(Set(batch.map(\.generatedIDs.count)).count > 1)
        for (request, response) in zip(requests, batch) {
            let alone = try pipeline.respond(to: request)
            #expect(alone.generatedIDs == response.generatedIDs)
            #expect(alone.text == response.text)
            #expect(alone.history == response.history)
        }
    }

    @Test("a batch mixes sampled and greedy requests; each sampled one reproduces its seed's tokens from respond(to:)")
    func sampledInBatch() throws {
        let pipeline = try InternVLPipeline(modelDirectory: Fixtures.tinyModel)
        let sampled = GenerationSettings(maxNewTokens: 6, temperature: 0.8, topK: 20, topP: 0.9, repetitionPenalty: 1.1, seed: 7)
        let requests = [
            ChatRequest(question: "Tell me a story.", settings: sampled),
            ChatRequest(question: "Hello!", settings: GenerationSettings(maxNewTokens: 3)),
        ]
        let batch = try pipeline.respond(toBatch: requests)
        for (request, response) in zip(requests, batch) {
            #expect(try pipeline.respond(to: request).generatedIDs == response.generatedIDs)
        }
        #expect(try pipeline.respond(toBatch: []).isEmpty)
    }
}
