// A runnable tour of the InternVL library: one example per use.
//   swift run library-tour Tests/Fixtures/internvl2-tiny/model Examples/images/grace_hopper.png
import Foundation
import InternVL

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: library-tour MODEL_DIR IMAGE [VIDEO]")
    exit(2)
}
let modelDirectory = URL(fileURLWithPath: arguments[1])
let image = arguments[2]
let short = GenerationSettings(maxNewTokens: 8)

do {
    // 1. Load once.
    let pipeline = try InternVLPipeline(modelDirectory: modelDirectory)

    // 2. A question about one image (greedy, like the model card).
    let single = try pipeline.respond(to: ChatRequest(question: "Describe the image.", images: [.file(image)], settings: short))
    print("single image: \(single.text.debugDescription) (\(single.tilesPerImage) tiles, \(single.promptIDs.count) prompt tokens)")

    // 3. Several images in one question (Image-1: ..., Image-2: ...), and the "combined" form (one <img> block).
    let pair = try pipeline.respond(to: ChatRequest(question: "What differs?", images: [.file(image), .file(image)], maxTiles: 2, settings: short))
    let combined = try pipeline.respond(to: ChatRequest(question: "<image>\nWhat is shown?", images: [.file(image), .file(image)],
                                                        combineImages: true, maxTiles: 2, settings: short))
    print("two images: \(pair.text.debugDescription); combined: \(combined.text.debugDescription)")

    // 4. A multi-turn session with history.
    let session = pipeline.session(maxTiles: 2)
    _ = try session.ask("What is in the picture?", images: [.file(image)], settings: short)
    let followUp = try session.ask("Write a poem about it.", settings: short)
    print("session: \(session.history.count) rounds, last reply \(followUp.text.debugDescription)")

    // 5. A batch of independent prompts.
    let batch = try pipeline.respond(toBatch: [
        ChatRequest(question: "Hello!", settings: short),
        ChatRequest(question: "Caption this.", images: [.file(image)], maxTiles: 1, settings: short),
    ])
    print("batch: \(batch.map { $0.generatedIDs.count }) tokens")

    // 6. Video frames (sampled like the model card's load_video, one tile per frame).
    if arguments.count >= 4 {
        let frames = try VideoFrames.load(path: arguments[3], segments: 4)
        let video = try pipeline.respond(to: ChatRequest(question: "What happens?", videoFrames: frames, settings: short))
        print("video: \(frames.count) frames -> \(video.text.debugDescription)")
    }

    // 7. Streaming tokens as an AsyncSequence, with sampling settings and a system prompt override.
    let sampled = GenerationSettings(maxNewTokens: 8, temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.1, seed: 42)
    let semaphore = DispatchSemaphore(value: 0)
    Task {
        var streamed = ""
        for try await delta in pipeline.stream(ChatRequest(question: "Tell a story.", systemMessage: "You are terse.", settings: sampled)) {
            streamed += delta
        }
        print("streamed: \(streamed.debugDescription)")
        semaphore.signal()
    }
    semaphore.wait()
} catch {
    print("error: \(error)")
    exit(1)
}
