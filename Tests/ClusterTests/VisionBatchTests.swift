import Checkpoint
import Cluster
import Foundation
import InternVL
import Models
import Testing
import TestSupport
import Transport
import Wire

/// The vision worker encodes the tiles of several queued requests in one pass and answers each request alone.
@Suite struct VisionBatchTests {
    let directory = Fixtures.tinyModel

    func request(id: UInt64, tiles: Int, seed: UInt64, size: Int) -> (request: Internvl_V1_VisionRequest, frames: [ZMQFrame], pixels: [Float]) {
        var generator = SplitMix64(seed: seed)
        let pixels = (0..<(tiles * 3 * size * size)).map { _ in Float(generator.nextUnit() * 2 - 1) }
        var request = Internvl_V1_VisionRequest()
        request.requestID = id
        var frames: [ZMQFrame] = []
        request.pixelValues = pixels.withUnsafeBufferPointer {
            TensorFrames.append($0.baseAddress!, rows: tiles, columns: 3 * size * size, to: &frames)
        }
        return (request, frames, pixels)
    }

    func embeddings(_ message: WireMessage) throws -> (id: UInt64, values: [Float]) {
        guard case .visionResult(let result) = message.envelope.body else {
            throw WireError(.malformed, "expected a vision result, got \(String(describing: message.envelope.body))")
        }
        let (rows, columns) = try TensorFrames.validate(result.embeddings, in: message.tensorFrames)
        var values = [Float](repeating: 0, count: rows * columns)
        try values.withUnsafeMutableBufferPointer { try TensorFrames.read(result.embeddings, from: message.tensorFrames, into: $0.baseAddress!) }
        return (result.requestID, values)
    }

    @Test func batchedRequestsGetTheirOwnEmbeddingsAndABadOneFailsAlone() throws {
        let model = try InternVLModel(directory: directory)
        let configuration = model.configuration
        let size = configuration.imageSize
        let vision = try VisionWorker(store: CheckpointStore(directory: directory), configuration: configuration, weightFormat: .bf16)
        let first = request(id: 21, tiles: 2, seed: 5, size: size)
        let second = request(id: 22, tiles: 1, seed: 6, size: size)
        var broken = request(id: 23, tiles: 1, seed: 7, size: size)
        broken.request.pixelValues.shape = [1, 5]  // not 3 x size x size values per tile

        let answers = vision.answer([(first.request, first.frames), (broken.request, broken.frames), (second.request, second.frames)])
        #expect(answers.count == 3)
        guard case .error(let report) = answers[1].envelope.body else {
            Issue.record("the malformed request should fail alone")
            return
        }
        #expect(report.sequenceID == 23 && report.message.contains("vision request 23") && report.message.contains("shape"), "\(report.message)")
        for (answer, item) in [(answers[0], first), (answers[2], second)] {
            let (id, values) = try embeddings(answer)
            #expect(id == item.request.requestID)
            let tiles = Int(item.request.pixelValues.shape[0])
            let expected = try model.encodeImages(pixelValues: item.pixels, tiles: tiles, height: size, width: size)
            #expect(values.count == expected.count)
            let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
            // The golden tolerance of vision embeddings (fixture README: vit_embeds 5e-4); batching only changes matmul rounding.
            #expect(worst <= 5e-4, "request \(id): max |delta| \(worst)")
        }
    }
}
