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

    /// The `VisionResult` for `request` (embeddings [tiles * tokensPerTile, H_llm] in one tensor frame), or an
    /// `ErrorReport` naming what was wrong with the request.
    public func answer(_ request: Internvl_V1_VisionRequest, frames: [ZMQFrame]) -> WireMessage {
        do {
            let (tiles, columns) = try TensorFrames.validate(request.pixelValues, in: frames)
            let size = configuration.imageSize
            guard columns == 3 * size * size, tiles > 0 else {
                throw WireError(.tensor, "pixel values are [\(tiles), \(columns)], expected [tiles > 0, 3 x \(size) x \(size)]")
            }
            var pixels = [Float](repeating: 0, count: tiles * columns)
            try pixels.withUnsafeMutableBufferPointer {
                try TensorFrames.read(request.pixelValues, from: frames, into: $0.baseAddress!)
            }
            let features = try vision.forward(pixelValues: pixels, tiles: tiles, height: size, width: size,
                                              selectLayer: configuration.selectLayer)
            let embeddings = try projector.forward(features.selected, tiles: tiles, gridRows: features.gridRows,
                                                   gridCols: features.gridCols)
            var result = Internvl_V1_VisionResult()
            result.requestID = request.requestID
            var tensorFrames: [ZMQFrame] = []
            let hidden = configuration.llm.hiddenSize
            result.embeddings = embeddings.withUnsafeBufferPointer {
                TensorFrames.append($0.baseAddress!, rows: embeddings.count / hidden, columns: hidden, to: &tensorFrames)
            }
            return WireMessage(.visionResult(result), tensorFrames: tensorFrames)
        } catch {
            var report = Internvl_V1_ErrorReport()
            report.code = error is WireError ? .malformed : .internal
            report.message = "vision request \(request.requestID): \(error)"
            report.sequenceID = request.requestID
            return WireMessage(.error(report))
        }
    }

    /// Answers vision requests from `link` until it closes.
    public func serve(_ link: WorkerControlLink) async {
        while let message = await link.nextMessage() {
            guard case .visionRequest(let request) = message.envelope.body else { continue }
            try? link.send(answer(request, frames: message.tensorFrames))
        }
    }
}
