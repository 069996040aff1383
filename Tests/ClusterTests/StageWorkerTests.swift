import Checkpoint
import Cluster
import Foundation
import InternVL
import Models
import Testing
import TestSupport
import Transport
import Wire

/// The workers' compute, in process: a vision worker and two LLM stages must reproduce the whole model.
@Suite struct StageWorkerTests {
    let directory = Fixtures.tinyModel

    func stages() throws -> (LLMStageWorker, LLMStageWorker) {
        let configuration = try InternVLConfiguration(directory: directory)
        #expect(configuration.llm.layerCount == 2)
        let first = try LLMStageWorker(store: CheckpointStore(directory: directory), configuration: configuration.llm,
                                       layers: 0..<1, weightFormat: .bf16)
        let last = try LLMStageWorker(store: CheckpointStore(directory: directory), configuration: configuration.llm,
                                      layers: 1..<2, weightFormat: .bf16)
        return (first, last)
    }

    func chunk(sequence: UInt64, start: Int, ids: [Int], maxPositions: Int) -> Internvl_V1_SequenceChunk {
        var chunk = Internvl_V1_SequenceChunk()
        chunk.sequenceID = sequence
        chunk.startPosition = UInt32(start)
        chunk.tokenIds = ids.map(UInt32.init)
        chunk.sample = true
        chunk.maxPositions = UInt32(maxPositions)
        return chunk
    }

    /// Runs `batch` through both stages; the sampled token, or the error report of whichever stage failed.
    func step(_ stages: (LLMStageWorker, LLMStageWorker), _ batch: Internvl_V1_ForwardBatch, frames: [ZMQFrame] = [])
        -> (token: Int?, error: Internvl_V1_ErrorReport?) {
        let middle: WireMessage
        switch stages.0.process(batch, frames: frames) {
        case .nextStage(let message): middle = message
        case .coordinator(let message):
            if case .error(let report) = message.envelope.body { return (nil, report) }
            return (nil, nil)
        }
        guard case .forwardBatch(let forwarded) = middle.envelope.body else { return (nil, nil) }
        guard case .coordinator(let out) = stages.1.process(forwarded, frames: middle.tensorFrames) else { return (nil, nil) }
        switch out.envelope.body {
        case .sampledTokens(let tokens): return (tokens.tokens.first.map { Int($0.tokenID) }, nil)
        case .error(let report): return (nil, report)
        default: return (nil, nil)
        }
    }

    @Test func twoStagesDecodeLikeTheWholeModel() throws {
        let model = try InternVLModel(directory: directory)
        let prompt = [1, 1535, 1285, 1304, 268, 482, 1288, 231, 192]
        let cache = model.makeCache(capacity: 16)
        var expected = [Sampler.argmax(try model.prefill(tokenIDs: prompt, cache: cache))]
        for _ in 0..<3 { expected.append(Sampler.argmax(try model.decodeStep(tokenID: expected.last!, cache: cache))) }

        let workers = try stages()
        var batch = Internvl_V1_ForwardBatch()
        batch.chunks = [chunk(sequence: 7, start: 0, ids: prompt, maxPositions: 16)]
        var got: [Int] = []
        let first = step(workers, batch)
        #expect(first.error == nil, "\(first.error?.message ?? "")")
        got.append(try #require(first.token))
        for _ in 0..<3 {
            batch.chunks = [chunk(sequence: 7, start: prompt.count + got.count - 1, ids: [got.last!], maxPositions: 16)]
            got.append(try #require(step(workers, batch).token))
        }
        #expect(got == expected)

        // A freed sequence cannot continue; the report names the sequence.
        workers.0.free([7])
        batch.chunks = [chunk(sequence: 7, start: prompt.count + got.count - 1, ids: [got.last!], maxPositions: 16)]
        let afterFree = step(workers, batch)
        #expect(afterFree.token == nil)
        #expect(afterFree.error?.sequenceID == 7)
        #expect(afterFree.error?.message.contains("no KV cache") == true, "\(afterFree.error?.message ?? "")")
    }

    @Test func imagesAreEncodedAndSplicedLikeTheWholeModel() throws {
        let model = try InternVLModel(directory: directory)
        let configuration = model.configuration
        let preparation = try PromptPreparation(modelDirectory: directory)
        let size = configuration.imageSize
        var generator = SplitMix64(seed: 3)
        let pixels = (0..<(3 * size * size)).map { _ in Float(generator.nextUnit() * 2 - 1) }
        let expectedEmbeddings = try model.encodeImages(pixelValues: pixels, tiles: 1, height: size, width: size)

        let vision = try VisionWorker(store: CheckpointStore(directory: directory), configuration: configuration, weightFormat: .bf16)
        var request = Internvl_V1_VisionRequest()
        request.requestID = 11
        var pixelFrames: [ZMQFrame] = []
        request.pixelValues = pixels.withUnsafeBufferPointer {
            TensorFrames.append($0.baseAddress!, rows: 1, columns: pixels.count, to: &pixelFrames)
        }
        let answer = vision.answer(request, frames: pixelFrames)
        guard case .visionResult(let result) = answer.envelope.body else {
            Issue.record("expected a vision result, got \(String(describing: answer.envelope.body))")
            return
        }
        #expect(result.requestID == 11)
        let (rows, columns) = try TensorFrames.validate(result.embeddings, in: answer.tensorFrames)
        #expect(rows == configuration.imageTokensPerTile && columns == configuration.llm.hiddenSize)
        var embeddings = [Float](repeating: 0, count: rows * columns)
        try embeddings.withUnsafeMutableBufferPointer {
            try TensorFrames.read(result.embeddings, from: answer.tensorFrames, into: $0.baseAddress!)
        }
        #expect(embeddings == expectedEmbeddings)

        let context = preparation.imageContextID
        let prompt = [1, 1535, 1536] + Array(repeating: context, count: rows) + [1537, 1288, 231]
        let cache = model.makeCache(capacity: prompt.count + 1)
        let expected = Sampler.argmax(try model.prefill(tokenIDs: prompt, imageEmbeddings: expectedEmbeddings,
                                                        imageContextTokenID: context, cache: cache))
        var batch = Internvl_V1_ForwardBatch()
        var prefill = chunk(sequence: 1, start: 0, ids: prompt, maxPositions: prompt.count + 1)
        prefill.imageRowCount = UInt32(rows)
        prefill.imageContextTokenID = UInt32(context)
        batch.chunks = [prefill]
        batch.imageEmbeddings = result.embeddings
        let out = step(try stages(), batch, frames: answer.tensorFrames)
        #expect(out.error == nil, "\(out.error?.message ?? "")")
        #expect(out.token == expected)

        // Fewer image rows than <IMG_CONTEXT> positions is refused, naming both counts.
        prefill.imageRowCount = UInt32(rows - 1)
        batch.chunks = [prefill]
        let mismatch = step(try stages(), batch, frames: answer.tensorFrames)
        #expect(mismatch.token == nil)
        #expect(mismatch.error?.message.contains("\(rows)") == true, "\(mismatch.error?.message ?? "")")
    }
    /// With `activations: int8` a stage sends one byte per hidden value plus a float scale per row; the values are
    /// within half a quantization step of the f32 ones, and the next stage samples from them.
    @Test func int8ActivationsTravelAsOneBytePerValueWithARowScale() throws {
        let configuration = try InternVLConfiguration(directory: directory)
        let exactStage = try LLMStageWorker(store: CheckpointStore(directory: directory), configuration: configuration.llm,
                                            layers: 0..<1, weightFormat: .bf16)
        let compressingStage = try LLMStageWorker(store: CheckpointStore(directory: directory), configuration: configuration.llm,
                                                  layers: 0..<1, weightFormat: .bf16, activationEncoding: .int8Row)
        let last = try stages().1
        let prompt = [1, 1535, 1285, 1304, 268, 482, 1288, 231, 192]
        var batch = Internvl_V1_ForwardBatch()
        batch.chunks = [chunk(sequence: 3, start: 0, ids: prompt, maxPositions: 16)]
        guard case .nextStage(let exact) = exactStage.process(batch, frames: []),
              case .nextStage(let compressed) = compressingStage.process(batch, frames: []),
              case .forwardBatch(let exactBatch) = exact.envelope.body,
              case .forwardBatch(let compressedBatch) = compressed.envelope.body else {
            Issue.record("the first stage did not forward hidden states")
            return
        }
        #expect(exactBatch.hiddenStates.encoding == .f32)
        #expect(compressedBatch.hiddenStates.encoding == .int8Row)
        let (rows, columns) = try TensorFrames.validate(compressedBatch.hiddenStates, in: compressed.tensorFrames)
        #expect(rows == prompt.count && columns == configuration.llm.hiddenSize)
        #expect(compressed.tensorFrames[Int(compressedBatch.hiddenStates.dataFrame)].count == rows * columns)
        var reference = [Float](repeating: 0, count: rows * columns)
        var decoded = [Float](repeating: 0, count: rows * columns)
        try reference.withUnsafeMutableBufferPointer { try TensorFrames.read(exactBatch.hiddenStates, from: exact.tensorFrames, into: $0.baseAddress!) }
        try decoded.withUnsafeMutableBufferPointer { try TensorFrames.read(compressedBatch.hiddenStates, from: compressed.tensorFrames, into: $0.baseAddress!) }
        for row in 0..<rows {
            let values = reference[(row * columns)..<((row + 1) * columns)]
            let step = values.map(abs).max()! / 127
            let worst = zip(values, decoded[(row * columns)..<((row + 1) * columns)]).map { abs($0 - $1) }.max()!
            #expect(worst <= step * 0.5001, "row \(row): error \(worst), step \(step)")
        }
        guard case .coordinator(let out) = last.process(compressedBatch, frames: compressed.tensorFrames),
              case .sampledTokens(let tokens) = out.envelope.body else {
            Issue.record("the last stage did not sample from int8 hidden states")
            return
        }
        #expect(tokens.tokens.map(\.sequenceID) == [3])
    }
}
