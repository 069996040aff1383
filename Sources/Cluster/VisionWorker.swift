import Checkpoint
import Foundation
import InternVL
import Models
import Transport
import Wire

/// A vision worker's compute: InternViT, then pixel shuffle + mlp1, on the tiles of one `VisionRequest`.
///
/// It loads only the vision tensors of the checkpoint (the store maps lazily, so the decoder is never read).
public final class VisionWorker: @unchecked Sendable {
    private let configuration: InternVLConfiguration
    private let vision: InternViT
    private let projector: Projector

    /// Loads InternViT and the projector from `store`, Linear weights in `weightFormat`.
    public init(store: CheckpointStore, configuration: InternVLConfiguration, weightFormat: WeightFormat) throws {
        self.configuration = configuration
        vision = try InternViT(store: store, configuration: configuration.vision, weightFormat: weightFormat)
        projector = try Projector(store: store, configuration: configuration, weightFormat: weightFormat)
    }

    /// Most tiles encoded in one batched pass (InternVL2's 12 tiles + thumbnail fit at once).
    public static let maxBatchTiles = 16

    /// The `VisionResult` for `request` (embeddings [tiles * tokensPerTile, H_llm] in one tensor frame), or an
    /// `ErrorReport` naming what was wrong with the request.
    public func answer(_ request: Internvl_V1_VisionRequest, frames: [ZMQFrame]) -> WireMessage {
        answer([(request, frames)])[0]
    }

    /// Answers several requests with one InternViT + projector pass over all their tiles (each tile is encoded on
    /// its own, so a request's embeddings do not depend on its neighbours beyond float rounding in the matmuls); one
    /// answer per request, in order. A malformed request fails alone with an `ErrorReport`.
    public func answer(_ requests: [(request: Internvl_V1_VisionRequest, frames: [ZMQFrame])]) -> [WireMessage] {
        var answers = [WireMessage?](repeating: nil, count: requests.count)
        var pixels: [Float] = []
        var members: [(index: Int, tiles: Int)] = []
        let size = configuration.imageSize
        for (index, (request, frames)) in requests.enumerated() {
            do {
                let (tiles, columns) = try TensorFrames.validate(request.pixelValues, in: frames)
                guard columns == 3 * size * size, tiles > 0 else {
                    throw WireError(.tensor, "pixel values are [\(tiles), \(columns)], expected [tiles > 0, 3 x \(size) x \(size)]")
                }
                let start = pixels.count
                pixels += [Float](repeating: 0, count: tiles * columns)
                try pixels.withUnsafeMutableBufferPointer {
                    try TensorFrames.read(request.pixelValues, from: frames, into: $0.baseAddress! + start)
                }
                members.append((index, tiles))
            } catch {
                answers[index] = Self.report(error, request: request.requestID)
            }
        }
        let totalTiles = members.reduce(0) { $0 + $1.tiles }
        if totalTiles > 0 {
            do {
                let features = try vision.forward(pixelValues: pixels, tiles: totalTiles, height: size, width: size,
                                                  selectLayer: configuration.selectLayer)
                let embeddings = try projector.forward(features.selected, tiles: totalTiles, gridRows: features.gridRows,
                                                       gridCols: features.gridCols)
                let hidden = configuration.llm.hiddenSize
                let rowsPerTile = embeddings.count / hidden / totalTiles
                var row = 0
                for (index, tiles) in members {
                    var result = Internvl_V1_VisionResult()
                    result.requestID = requests[index].request.requestID
                    var tensorFrames: [ZMQFrame] = []
                    let rows = tiles * rowsPerTile
                    result.embeddings = embeddings.withUnsafeBufferPointer {
                        TensorFrames.append($0.baseAddress! + row * hidden, rows: rows, columns: hidden, to: &tensorFrames)
                    }
                    row += rows
                    answers[index] = WireMessage(.visionResult(result), tensorFrames: tensorFrames)
                }
            } catch {
                for (index, _) in members { answers[index] = Self.report(error, request: requests[index].request.requestID) }
            }
        }
        return answers.map { $0! }
    }

    private static func report(_ error: Error, request: UInt64) -> WireMessage {
        var report = Internvl_V1_ErrorReport()
        report.code = error is WireError ? .malformed : .internal
        report.message = "vision request \(request): \(error)"
        report.sequenceID = request
        return WireMessage(.error(report))
    }

    /// Answers vision requests from `link` until it closes. Requests that queue up while a batch is being encoded
    /// (several clients' images) are encoded together in the next pass, up to `maxBatchTiles` tiles.
    public func serve(_ link: WorkerControlLink) async {
        let queue = PendingVisionRequests()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let pump = Task {
            while let message = await link.nextMessage() {
                guard case .visionRequest(let request) = message.envelope.body else { continue }
                queue.append((request, message.tensorFrames))
                wake.yield()
            }
            wake.finish()
        }
        defer { pump.cancel() }
        for await _ in wakeups {
            while true {
                let batch = queue.take(maxTiles: Self.maxBatchTiles)
                if batch.isEmpty { break }
                for message in answer(batch) { try? link.send(message) }
            }
        }
    }
}

/// Vision requests received and not yet encoded, shared by the socket pump and the encoding loop.
private final class PendingVisionRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [(request: Internvl_V1_VisionRequest, frames: [ZMQFrame])] = []

    func append(_ item: (request: Internvl_V1_VisionRequest, frames: [ZMQFrame])) {
        lock.withLock { waiting.append(item) }
    }

    /// The oldest requests whose tiles add up to at most `maxTiles` (always at least one request).
    func take(maxTiles: Int) -> [(request: Internvl_V1_VisionRequest, frames: [ZMQFrame])] {
        lock.withLock {
            var count = 0, tiles = 0
            for item in waiting {
                let size = item.request.pixelValues.shape.first.map(Int.init) ?? 1
                if count > 0 && tiles + size > maxTiles { break }
                count += 1
                tiles += size
            }
            defer { waiting.removeFirst(count) }
            return Array(waiting.prefix(count))
        }
    }
}
