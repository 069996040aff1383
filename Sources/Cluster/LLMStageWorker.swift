import Checkpoint
import Foundation
import InternVL
import Models
import Transport
import Wire

/// An LLM stage's compute: decoder layers [a, b) over a KV cache per sequence.
///
/// The first stage embeds token ids and splices image embeddings at `<IMG_CONTEXT>` positions; a stage that is not
/// the last returns its output hidden states for the next stage; the last stage normalizes, computes the last row's
/// logits and picks a token (argmax, or the sequence's seeded `Sampler`).
public final class LLMStageWorker: @unchecked Sendable {
    /// Where the result of one forward batch goes.
    public enum Output {
        /// Hidden states (a `ForwardBatch`) for the next stage.
        case nextStage(WireMessage)
        /// `SampledTokens` or an `ErrorReport` for the coordinator.
        case coordinator(WireMessage)
    }

    /// Per-sequence state of the last stage: the sampler and every token fed so far (for the repetition penalty).
    private struct SequenceSampling {
        var sampler: Sampler?
        var seen: [Int]
    }

    private let stage: DecoderStage
    private let isFirst: Bool
    private let isLast: Bool
    private let activationEncoding: Internvl_V1_TensorEncoding
    private var caches: [UInt64: KVCache] = [:]
    private var sampling: [UInt64: SequenceSampling] = [:]

    /// Loads layers `layers` of the decoder (plus embeddings on the first stage, final norm and head on the last).
    /// `activationEncoding`: how hidden states travel to the next stage (`.int8Row` when cluster.yaml says
    /// `activations: int8`: one byte per value plus a float scale per row).
    public init(store: CheckpointStore, configuration: LanguageModelConfiguration, layers: Range<Int>,
                weightFormat: WeightFormat, activationEncoding: Internvl_V1_TensorEncoding = .f32) throws {
        stage = try DecoderStage(store: store, configuration: configuration, layers: layers, weightFormat: weightFormat)
        self.activationEncoding = activationEncoding
        isFirst = layers.lowerBound == 0
        isLast = layers.upperBound == configuration.layerCount
    }

    /// Sequences whose KV cache is resident (safe to read from any thread, e.g. for heartbeats).
    public var activeSequences: Int { residentLock.withLock { resident.sequences } }

    /// Bytes of KV cache allocated for resident sequences (safe to read from any thread).
    public var kvBytesUsed: Int { residentLock.withLock { resident.bytes } }

    private let residentLock = NSLock()
    private var resident = (sequences: 0, bytes: 0)

    /// Called on the serving thread when the number of resident sequences changes (e.g. to send a heartbeat at once,
    /// so the coordinator's view follows sequences that live less than a heartbeat interval).
    public var onResidentChange: (@Sendable (_ sequences: Int, _ bytes: Int) -> Void)?

    private func updateResident() {
        let bytes = caches.values.reduce(0) { $0 + 2 * $1.layerCount * $1.capacity * $1.rowWidth * 4 }
        let count = caches.count
        let changed = residentLock.withLock {
            let changed = resident.sequences != count
            resident = (count, bytes)
            return changed
        }
        if changed { onResidentChange?(count, bytes) }
    }

    /// Drops the KV caches (and sampling state) of `sequenceIDs`.
    public func free(_ sequenceIDs: [UInt64]) {
        for id in sequenceIDs {
            caches[id] = nil
            sampling[id] = nil
        }
        updateResident()
    }

    /// A failure attributed to one sequence of a batch.
    private struct SequenceFailure: Error {
        let sequenceID: UInt64
        let underlying: Error
    }

    /// One chunk's input to the layers: its hidden states (rows = its tokens) and its KV cache.
    struct StageInput {
        var chunk: Internvl_V1_SequenceChunk
        var hiddenStates: [Float]
        var cache: KVCache
    }

    /// Runs this stage's layers over every chunk of a micro-batch in one batched pass (each weight read once per
    /// micro-batch; attention per sequence over its own cache); the output hidden states, one array per input.
    /// A chunk the stage would refuse (e.g. one overflowing its sequence's KV cache) fails alone, before anything is
    /// computed.
    private func forward(_ inputs: [StageInput]) throws -> [[Float]] {
        let items = inputs.map { DecoderBatchItem(hiddenStates: $0.hiddenStates, cache: $0.cache) }
        for (input, item) in zip(inputs, items) {
            do { try stage.validate(item) } catch {
                throw SequenceFailure(sequenceID: input.chunk.sequenceID, underlying: error)
            }
        }
        return try stage.forward(batch: items)
    }

    /// Runs `batch` through this stage's layers.
    public func process(_ batch: Internvl_V1_ForwardBatch, frames: [ZMQFrame]) -> Output {
        defer { updateResident() }
        do {
            let inputs = try stageInputs(batch, frames: frames)
            let outputs = try forward(inputs)
            return try isLast ? .coordinator(sample(batch, inputs: inputs, outputs: outputs))
                              : .nextStage(forwardMessage(batch, inputs: inputs, outputs: outputs))
        } catch {
            let failure = error as? SequenceFailure
            let underlying = failure?.underlying ?? error
            if let failure { free([failure.sequenceID]) }
            var report = Internvl_V1_ErrorReport()
            report.code = underlying is WireError ? .malformed : .internal
            report.message = "layers \(stage.layers.lowerBound)..<\(stage.layers.upperBound), batch \(batch.batchID): \(underlying)"
            report.sequenceID = failure?.sequenceID ?? 0
            report.batchID = batch.batchID
            return .coordinator(WireMessage(.error(report)))
        }
    }

    /// Each chunk's input hidden states (embedded tokens with image rows spliced on the first stage, the previous
    /// stage's rows on later ones) and its KV cache.
    private func stageInputs(_ batch: Internvl_V1_ForwardBatch, frames: [ZMQFrame]) throws -> [StageInput] {
        let h = stage.configuration.hiddenSize
        var images: [Float] = []
        var incoming: [Float] = []
        if isFirst {
            if batch.hasImageEmbeddings {
                let (rows, columns) = try TensorFrames.validate(batch.imageEmbeddings, in: frames)
                guard columns == h else { throw WireError(.tensor, "image embeddings have \(columns) columns, hidden size is \(h)") }
                images = [Float](repeating: 0, count: rows * columns)
                try images.withUnsafeMutableBufferPointer { try TensorFrames.read(batch.imageEmbeddings, from: frames, into: $0.baseAddress!) }
            }
        } else {
            let (rows, columns) = try TensorFrames.validate(batch.hiddenStates, in: frames)
            guard columns == h else { throw WireError(.tensor, "hidden states have \(columns) columns, hidden size is \(h)") }
            incoming = [Float](repeating: 0, count: rows * columns)
            try incoming.withUnsafeMutableBufferPointer { try TensorFrames.read(batch.hiddenStates, from: frames, into: $0.baseAddress!) }
        }
        var inputs: [StageInput] = []
        for chunk in batch.chunks {
            do {
                let ids = chunk.tokenIds.map(Int.init)
                guard !ids.isEmpty else { throw WireError(.malformed, "sequence \(chunk.sequenceID): chunk without tokens") }
                var x: [Float]
                if isFirst {
                    x = try stage.embed(ids)
                    if chunk.imageRowCount > 0 {
                        let begin = Int(chunk.imageRowBegin), count = Int(chunk.imageRowCount)
                        guard (begin + count) * h <= images.count else {
                            throw WireError(.tensor, "sequence \(chunk.sequenceID): image rows \(begin)..<\(begin + count) outside the image tensor")
                        }
                        try Self.splice(images[(begin * h)..<((begin + count) * h)], into: &x, tokenIDs: ids,
                                        imageContextTokenID: Int(chunk.imageContextTokenID), hiddenSize: h)
                    }
                } else {
                    let begin = Int(chunk.rowBegin)
                    guard (begin + ids.count) * h <= incoming.count else {
                        throw WireError(.tensor, "sequence \(chunk.sequenceID): rows \(begin)..<\(begin + ids.count) outside the hidden states")
                    }
                    x = Array(incoming[(begin * h)..<((begin + ids.count) * h)])
                }
                inputs.append(StageInput(chunk: chunk, hiddenStates: x, cache: try cache(for: chunk)))
            } catch {
                throw SequenceFailure(sequenceID: chunk.sequenceID, underlying: error)
            }
        }
        return inputs
    }

    /// The last stage: the tokens sampled for the chunks that ask for one.
    private func sample(_ batch: Internvl_V1_ForwardBatch, inputs: [StageInput], outputs: [[Float]]) throws -> WireMessage {
        var tokens = Internvl_V1_SampledTokens()
        tokens.batchID = batch.batchID
        // One head matmul for every chunk that samples.
        let samplingInputs = inputs.indices.filter { inputs[$0].chunk.sample }
        let sampledLogits = samplingInputs.isEmpty ? [] : try stage.logits(lastRowsOf: samplingInputs.map { outputs[$0] })
        var logitsOfInput: [Int: [Float]] = [:]
        for (index, logits) in zip(samplingInputs, sampledLogits) { logitsOfInput[index] = logits }
        for (index, input) in inputs.enumerated() {
            let chunk = input.chunk
            do {
                var state = try sampling[chunk.sequenceID] ?? SequenceSampling(sampler: Self.sampler(chunk.sampling), seen: [])
                state.seen += chunk.tokenIds.map(Int.init)
                if chunk.sample, let logits = logitsOfInput[index] {
                    let token: Int
                    if var sampler = state.sampler {
                        token = sampler.sample(logits, seen: state.seen)
                        state.sampler = sampler
                    } else {
                        token = Sampler.argmax(logits)
                    }
                    var sampled = Internvl_V1_SampledTokens.Token()
                    sampled.sequenceID = chunk.sequenceID
                    sampled.tokenID = UInt32(token)
                    tokens.tokens.append(sampled)
                }
                sampling[chunk.sequenceID] = state
            } catch {
                throw SequenceFailure(sequenceID: chunk.sequenceID, underlying: error)
            }
        }
        return WireMessage(.sampledTokens(tokens))
    }

    /// A stage before the last: the batch for the next stage, every chunk's output rows in one tensor.
    private func forwardMessage(_ batch: Internvl_V1_ForwardBatch, inputs: [StageInput], outputs: [[Float]]) -> WireMessage {
        let h = stage.configuration.hiddenSize
        var outgoing: [Float] = []
        outgoing.reserveCapacity(outputs.reduce(0) { $0 + $1.count })
        var chunks: [Internvl_V1_SequenceChunk] = []
        for (input, y) in zip(inputs, outputs) {
            var forwarded = input.chunk
            forwarded.rowBegin = UInt32(outgoing.count / h)
            forwarded.imageRowBegin = 0
            forwarded.imageRowCount = 0
            chunks.append(forwarded)
            outgoing += y
        }
        var next = Internvl_V1_ForwardBatch()
        next.batchID = batch.batchID
        next.chunks = chunks
        var tensorFrames: [ZMQFrame] = []
        next.hiddenStates = outgoing.withUnsafeBufferPointer {
            TensorFrames.append($0.baseAddress!, rows: outgoing.count / h, columns: h, encoding: activationEncoding, to: &tensorFrames)
        }
        return WireMessage(.forwardBatch(next), tensorFrames: tensorFrames)
    }

    /// The KV cache of `chunk`'s sequence: created when the sequence starts, which must continue where it left off.
    private func cache(for chunk: Internvl_V1_SequenceChunk) throws -> KVCache {
        if chunk.startPosition == 0 {
            let capacity = Int(chunk.maxPositions)
            guard capacity >= chunk.tokenIds.count else {
                throw WireError(.malformed, "sequence \(chunk.sequenceID): max_positions \(capacity) < \(chunk.tokenIds.count) prompt tokens")
            }
            let cache = stage.makeCache(capacity: capacity)
            caches[chunk.sequenceID] = cache
            sampling[chunk.sequenceID] = nil
            return cache
        }
        guard let cache = caches[chunk.sequenceID] else {
            throw WireError(.malformed, "sequence \(chunk.sequenceID) continues at position \(chunk.startPosition) but has no KV cache here")
        }
        guard cache.length == Int(chunk.startPosition) else {
            throw WireError(.malformed, "sequence \(chunk.sequenceID) continues at position \(chunk.startPosition) but its KV cache holds \(cache.length)")
        }
        return cache
    }

    /// A seeded sampler for temperature > 0, nil for greedy.
    private static func sampler(_ parameters: Internvl_V1_SamplingParams) throws -> Sampler? {
        guard parameters.temperature > 0 else { return nil }
        return try Sampler(parameters: SamplingParameters(
            temperature: parameters.temperature, topK: Int(parameters.topK), topP: parameters.topP,
            repetitionPenalty: parameters.repetitionPenalty, seed: parameters.seed))
    }

    /// Overwrites, in order, the rows of `embeddings` at `<IMG_CONTEXT>` positions with the rows of `images`
    /// (the rule of `InternVLModel.spliceImageEmbeddings`: the counts must agree exactly).
    static func splice(_ images: ArraySlice<Float>, into embeddings: inout [Float], tokenIDs: [Int],
                       imageContextTokenID: Int, hiddenSize h: Int) throws {
        let positions = tokenIDs.indices.filter { tokenIDs[$0] == imageContextTokenID }
        guard positions.count * h == images.count else {
            throw ModelError.imageTokenCountMismatch(contextTokens: positions.count, embeddingRows: images.count / h)
        }
        let base = images.startIndex
        for (row, position) in positions.enumerated() {
            embeddings.replaceSubrange(position * h..<(position + 1) * h, with: images[(base + row * h)..<(base + (row + 1) * h)])
        }
    }

    /// Binds a PULL socket on `activationEndpoint` (a stage after the first) and connects a PUSH socket to
    /// `nextStageEndpoint` (a stage before the last), then serves until the control link closes.
    public func serve(_ link: WorkerControlLink, activationEndpoint: String?, nextStageEndpoint: String?) async throws {
        var activations: SocketLoop?
        if let activationEndpoint {
            let socket = try ZMQSocket(.pull)
            do { try socket.bind(activationEndpoint) } catch {
                throw ClusterRuntimeError(.configuration, "cannot bind the activation endpoint \(activationEndpoint): \(error)")
            }
            activations = SocketLoop(socket: socket, name: "stage-activations-in")
        }
        var nextStage: SocketLoop?
        if let nextStageEndpoint {
            let socket = try ZMQSocket(.push)
            try socket.connect(nextStageEndpoint)
            nextStage = SocketLoop(socket: socket, name: "stage-activations-out")
        }
        defer {
            activations?.stop()
            nextStage?.stop()
        }
        await serve(link, activations: activations, nextStage: nextStage)
    }

    /// Serves forward batches (from `link` on the first stage, from `activations` on later ones) and frees, sending
    /// hidden states to `nextStage` and tokens or errors to the coordinator, until the inputs close.
    public func serve(_ link: WorkerControlLink, activations: SocketLoop?, nextStage: SocketLoop?) async {
        let (stream, sink) = AsyncStream.makeStream(of: WireMessage.self)
        let control = Task {
            while let message = await link.nextMessage() { sink.yield(message) }
            sink.finish()
        }
        let data = activations.map { loop in
            Task {
                for await frames in loop.incoming {
                    if let message = try? WireMessage.decode(frames) { sink.yield(message) }
                }
            }
        }
        for await message in stream {
            switch message.envelope.body {
            case .forwardBatch(let batch):
                switch process(batch, frames: message.tensorFrames) {
                case .nextStage(let out):
                    if let nextStage, let frames = try? out.frames() { nextStage.send(frames) }
                case .coordinator(let out):
                    try? link.send(out)
                }
            case .freeSequences(let request):
                free(request.sequenceIds)
            default:
                continue
            }
        }
        control.cancel()
        data?.cancel()
    }
}
