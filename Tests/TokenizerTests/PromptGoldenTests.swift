import Foundation
import Testing
@testable import Tokenizer

/// Every chat case of `manifest.json`: the prompt string, its ids (and the batch's padding and attention
/// mask), the history `chat()` returns, and the reply text made from the generated ids.
@Suite struct PromptGoldenTests {
    struct Round {
        let caseName: String
        let question: String
        let history: [InternVLPromptBuilder.Turn]?
        let tileCounts: [Int]
        let query: String
        let inputIDs: [Int]
        let attentionMask: [Int]
        let generatedIDs: [Int]
        let response: String
        let historyOut: [InternVLPromptBuilder.Turn]
    }

    static func turns(_ value: Any?) -> [InternVLPromptBuilder.Turn]? {
        guard let pairs = value as? [[String]] else { return nil }
        return pairs.map { InternVLPromptBuilder.Turn(question: $0[0], answer: $0[1]) }
    }

    /// Tiles per image as `chat()` receives them: `num_patches_list` when given, else all tiles in one block.
    static func tileCounts(of chatCase: [String: Any]) -> [Int] {
        if let list = chatCase["num_patches_list_arg"] as? [Int] { return list }
        let images = chatCase["images"] as? [[String: Any]] ?? []
        let total = images.compactMap { $0["tiles"] as? Int }.reduce(0, +)
        return images.isEmpty ? [] : [total]
    }

    static func singleRounds() throws -> [Round] {
        let cases = try Fixtures.manifest()["chat_cases"] as! [[String: Any]]
        var rounds: [Round] = []
        for chatCase in cases where chatCase["kind"] as? String != "batch" {
            let name = chatCase["name"] as! String
            for round in (chatCase["rounds"] as? [[String: Any]]) ?? [chatCase] {
                let counts = round["num_patches_list_arg"] is [Int] ? tileCounts(of: round) : tileCounts(of: chatCase)
                rounds.append(
                    Round(
                        caseName: name, question: round["question"] as! String,
                        history: turns(round["history_in"]), tileCounts: counts,
                        query: round["query"] as! String, inputIDs: (round["input_ids"] as! [[Int]])[0],
                        attentionMask: (round["attention_mask"] as! [[Int]])[0],
                        generatedIDs: (round["generated_ids"] as! [[Int]])[0], response: round["response"] as! String,
                        historyOut: turns(round["history_out"]) ?? []))
            }
        }
        return rounds
    }

    @Test func chatCasesMatchReference() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        let builder = InternVLPromptBuilder()
        let rounds = try Self.singleRounds()
        #expect(rounds.count == 10)
        #expect(Set(rounds.map(\.caseName)) == [
            "text_only", "text_two_round", "single_image", "auto_image_prefix", "two_images", "combined_images",
            "video_8_frames", "image_two_round",
        ])
        for round in rounds {
            let label: Comment = "\(round.caseName): \(round.question.debugDescription)"
            let prompt = try builder.chatPrompt(question: round.question, history: round.history,
                                                imageTileCounts: round.tileCounts)
            #expect(prompt.text == round.query, label)
            #expect(tokenizer.encode(prompt.text) == round.inputIDs, label)
            #expect(round.attentionMask == [Int](repeating: 1, count: round.inputIDs.count), label)
            let response = try tokenizer.chatResponse(generatedIDs: round.generatedIDs)
            #expect(response == round.response, label)
            let historyOut = (round.history ?? []) + [InternVLPromptBuilder.Turn(question: prompt.question, answer: response)]
            #expect(historyOut == round.historyOut, label)
        }
    }

    @Test func batchCaseMatchesReference() throws {
        let tokenizer = try Fixtures.mainTokenizer()
        let cases = try Fixtures.manifest()["chat_cases"] as! [[String: Any]]
        let batch = try #require(cases.first { $0["kind"] as? String == "batch" })
        let questions = batch["questions"] as! [String]
        let counts = batch["num_patches_list"] as! [Int]
        let prompts = try InternVLPromptBuilder().batchPrompts(questions: questions, imageTileCounts: counts)
        #expect(prompts == batch["query"] as! [String])
        let encoded = tokenizer.encodeBatch(prompts)
        #expect(encoded.inputIDs == batch["input_ids"] as! [[Int]])
        #expect(encoded.attentionMask == batch["attention_mask"] as! [[Int]])
        #expect(encoded.inputIDs[1].first == tokenizer.padID)
        let generated = batch["generated_ids"] as! [[Int]]
        let responses = try generated.map { try tokenizer.chatResponse(generatedIDs: $0) }
        #expect(responses == batch["responses"] as! [String])
    }

    @Test func imageExpansionRules() throws {
        let builder = InternVLPromptBuilder(imageTokensPerTile: 2)
        // One image, no placeholder, first round: `<image>\n` is prepended.
        let first = try builder.chatPrompt(question: "Q", imageTileCounts: [1])
        #expect(first.question == "<image>\nQ")
        #expect(first.text.hasSuffix("<|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>\nQ<|im_end|><|im_start|>assistant\n"))
        // With a history nothing is prepended, and the placeholder in the history is the one expanded.
        let second = try builder.chatPrompt(question: "R", history: [.init(question: first.question, answer: "A")],
                                            imageTileCounts: [2])
        #expect(second.question == "R")
        #expect(second.text.contains("user\n<img>" + String(repeating: "<IMG_CONTEXT>", count: 4) + "</img>\nQ<|im_end|>"))
        // Extra placeholders stay as text; missing ones are an error.
        let extra = try builder.chatPrompt(question: "<image> and <image>", imageTileCounts: [1])
        #expect(extra.text.contains("</img> and <image><|im_end|>"))
        #expect(throws: TokenizerError.self) { try builder.chatPrompt(question: "<image>", history: [], imageTileCounts: [1, 1]) }
        // An empty answer in the history writes only the role, like the reference.
        let empty = try builder.chatPrompt(question: "Q2", history: [.init(question: "Q1", answer: "")])
        #expect(empty.text.hasSuffix("user\nQ1<|im_end|><|im_start|>assistant\n<|im_start|>user\nQ2<|im_end|><|im_start|>assistant\n"))
        // Conventions of the model card.
        #expect(InternVLPromptBuilder.multiImageQuestion("D", imageCount: 2) == "Image-1: <image>\nImage-2: <image>\nD")
        #expect(InternVLPromptBuilder.videoQuestion("V", frameCount: 3) == "Frame1: <image>\nFrame2: <image>\nFrame3: <image>\nV")
        #expect(InternVLPromptBuilder.questionForImages("D", imageCount: 2) == "Image-1: <image>\nImage-2: <image>\nD")
        #expect(InternVLPromptBuilder.questionForImages("D", imageCount: 1) == "D")
        #expect(InternVLPromptBuilder.questionForImages("x <image>", imageCount: 3) == "x <image>")
        // A placeholder followed by a combining mark is still a placeholder for Python (code points, not graphemes).
        let combining = try builder.expandImages(in: "<image>\u{301}", imageTileCounts: [0])
        #expect(combining == "<img></img>\u{301}")
    }

    @Test func responsePostProcessingUsesPythonWhitespace() {
        let template = ChatTemplate.internLM2Chat
        #expect(template.extractResponse(fromDecoded: "\u{3000} hi\u{1C}\u{85}<|im_end|> rest") == "hi")
        #expect(template.extractResponse(fromDecoded: "\u{200B}x\u{200B}") == "\u{200B}x\u{200B}")
        #expect(template.extractResponse(fromDecoded: "no stop \u{A0}") == "no stop")
        #expect(ChatTemplate.phi3Chat.extractResponse(fromDecoded: " a<|end|>b") == "a")
    }
}
