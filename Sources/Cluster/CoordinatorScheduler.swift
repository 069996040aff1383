import Foundation
import InternVL
import Media
import Transport
import Wire

/// The coordinator's request path: takes `GenerateRequest`s from clients (a ROUTER on `coordinator.clients`),
/// prepares each prompt exactly as `InternVLPipeline` does, has the vision worker encode the tiles, runs the LLM
/// stages with continuous batching, streams tokens and answers with a `GenerateResult`.
///
/// **One event loop** (`run()`) owns all scheduling state: client messages (requests, cancels, status queries),
/// prepared prompts (tokenizing and tiling run off the loop), worker messages (vision results, sampled tokens, error
/// reports) and a tick four times a second (timeouts, worker liveness). After every event it frees finished
/// sequences on the stages and sends every micro-batch the `BatchPlanner` forms.
///
/// **Continuous batching**: each micro-batch mixes decode rows and prefill chunks of many sequences within a token
/// budget (512 rows by default); up to S micro-batches are in flight for S LLM stages, so every stage has work; a
/// sequence is in at most one in-flight micro-batch. Interactive requests go before batch ones (`priority`).
/// Vision requests of several requests may be outstanding while the LLM stages run; a request's prefill starts when
/// its embeddings are back. Long prompts are prefilled in chunks, each with the image rows of its own
/// `<IMG_CONTEXT>` tokens.
///
/// **KV admission**: each request reserves prompt + max_new_tokens positions on every stage (bytes per position:
/// 2 x layers x kv heads x head dim x 4, against the stage's `kv_cache_mb`); it waits while they do not fit and is
/// refused at once when it could never fit.
///
/// **Streaming and cancel**: a request with `stream` gets a `GenerateDelta` per sampled token (text from the model's
/// streaming detokenizer, as a local run prints it) before its `GenerateResult`. A `Cancel` stops the sequence at
/// the next step, frees its KV caches and is answered with the error "cancelled".
///
/// **Dead workers**: a worker whose heartbeats stop for `heartbeatTimeout` is marked dead; when a worker of the same
/// name registers again (e.g. restarted by `cluster up`), every unfinished sequence is prefilled again from its prompt
/// plus the tokens generated so far (a sampled sequence's sampler is reseeded with seed + tokens so far), and
/// outstanding vision requests are sent again. Requests fail only when no replacement registers within
/// `replacementGrace`. A failing request (bad image, prompt too long, a worker error) is answered with
/// `GenerateResult.error` and the coordinator keeps serving.
public final class CoordinatorScheduler: @unchecked Sendable {
    /// The bound clients endpoint.
    public let endpoint: String
    /// How long a micro-batch or vision request may stay unanswered before its requests fail.
    public let workerTimeout: Duration
    /// Silence after which a worker is marked dead.
    public let heartbeatTimeout: Duration
    /// How long requests wait for a dead worker's replacement before they fail.
    public let replacementGrace: Duration

    private enum Event {
        case client(route: [UInt8], message: Result<WireMessage, Error>)
        case prepared(sequence: UInt64, Result<PreparedPrompt, Error>)
        case worker(name: String, WireMessage)
        case tick
    }

    private let loop: SocketLoop
    private let control: CoordinatorControl
    private let preparation: PromptPreparation
    private let limits: (maxTiles: Int, maxImagePixels: Int, maxPromptTokens: Int, maxNewTokens: Int)
    private let visionWorker: String?
    private let stages: [String]
    private let log: @Sendable (String) -> Void
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private var planner: BatchPlanner
    private var requests: [UInt64: ScheduledRequest] = [:]
    private var batchSentAt: [UInt64: ContinuousClock.Instant] = [:]
    private var knownRegistrations: [String: Int] = [:]
    private var deadSince: [String: ContinuousClock.Instant] = [:]
    private var nextSequence: UInt64 = 1

    /// Binds `coordinator.clients` of `configuration` (or `endpoint`); `preparation` must use the cluster's limits.
    /// `plan` gives the stages' KV budgets (without it they are derived from the file and the model, as
    /// `ClusterPlan` does). `log` receives one line per notable event (a worker marked dead or replaced).
    public init(configuration: ClusterConfiguration, plan: ClusterPlan? = nil, control: CoordinatorControl,
                preparation: PromptPreparation, endpoint: String? = nil, workerTimeout: Duration = .seconds(300),
                heartbeatTimeout: Duration = .seconds(5), replacementGrace: Duration = .seconds(60),
                tokenBudget: Int = 512, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.workerTimeout = workerTimeout
        self.heartbeatTimeout = heartbeatTimeout
        self.replacementGrace = replacementGrace
        self.control = control
        self.preparation = preparation
        self.log = log
        limits = configuration.effectiveLimits
        visionWorker = configuration.workers.first { $0.role == .vision }?.name
        stages = configuration.workers.filter { $0.role == .llm }.map(\.name)
        planner = BatchPlanner(stageCount: max(1, stages.count), tokenBudget: tokenBudget,
                               kv: KVLedger(stages: plan.map(StageKVBudget.stages(of:))
                                   ?? StageKVBudget.stages(of: configuration, model: preparation.configuration.llm)))
        (events, sink) = AsyncStream.makeStream(of: Event.self)
        let socket = try ZMQSocket(.router)
        let address = endpoint ?? configuration.coordinator.clients
        do { try socket.bind(address) } catch {
            throw ClusterRuntimeError(.configuration, "cannot bind coordinator.clients \(address): \(error)")
        }
        self.endpoint = try socket.lastEndpoint()
        loop = SocketLoop(socket: socket, name: "coordinator-clients")
    }

    /// The prompt preparation a coordinator needs for `configuration`: the model's tokenizer and config, and the
    /// cluster file's image and prompt limits.
    public static func preparation(for configuration: ClusterConfiguration) throws -> PromptPreparation {
        let limits = configuration.effectiveLimits
        return try PromptPreparation(modelDirectory: URL(fileURLWithPath: configuration.model.path, isDirectory: true),
                                     limits: .init(maxImagePixels: limits.maxImagePixels, maxPromptTokens: limits.maxPromptTokens))
    }

    /// Serves client requests until `stop()`.
    public func run() async {
        let sink = self.sink
        let clients = Task { [loop] in
            for await frames in loop.incoming where frames.count >= 2 {
                sink.yield(.client(route: Array(frames[0].bytes), message: Result { try WireMessage.decode(frames, skip: 1) }))
            }
            sink.finish()
        }
        let workers = Task { [control] in
            for await (worker, message) in control.workerMessages { sink.yield(.worker(name: worker, message)) }
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                sink.yield(.tick)
            }
        }
        for await event in events {
            // First: a replaced worker holds no sequence, so nothing it says about old ones may count.
            checkWorkers(.now)
            switch event {
            case .client(let route, let message): handleClient(route: route, message)
            case .prepared(let sequence, let prepared): handlePrepared(sequence, prepared)
            case .worker(let name, let message): handleWorker(name, message)
            case .tick: handleTick()
            }
            dispatch()
        }
        clients.cancel()
        workers.cancel()
        ticker.cancel()
    }

    /// Closes the clients socket; `run()` returns.
    public func stop() {
        loop.stop()
        sink.finish()
    }

    // MARK: Clients

    private func handleClient(route: [UInt8], _ decoded: Result<WireMessage, Error>) {
        let message: WireMessage
        switch decoded {
        case .success(let m): message = m
        case .failure(let error):
            var result = Internvl_V1_GenerateResult()
            result.error = "\(error)"
            result.inputError = true
            send(.generateResult(result), to: route)
            return
        }
        switch message.envelope.body {
        case .generateRequest(let request): admit(request, frames: message.tensorFrames, route: route)
        case .cancel(let cancel):
            if let sequence = requests.first(where: { $0.value.request.requestID == cancel.requestID && $0.value.route == route })?.key {
                fail(sequence, "cancelled", isInput: false)
            }
        case .statusRequest: send(.clusterStatus(status()), to: route)
        default: break
        }
    }

    private func admit(_ request: Internvl_V1_GenerateRequest, frames: [ZMQFrame], route: [UInt8]) {
        func refuse(_ message: String, isInput: Bool) {
            var result = Internvl_V1_GenerateResult()
            result.requestID = request.requestID
            result.error = message
            result.inputError = isInput
            send(.generateResult(result), to: route)
        }
        guard !stages.isEmpty else { return refuse("the cluster file has no llm stage", isInput: false) }
        let chat: ChatRequest
        do { chat = try ScheduledRequest.chatRequest(request, frames: frames, limits: limits) } catch let failure as ScheduledRequest.Failure {
            return refuse(failure.message, isInput: failure.isInput)
        } catch {
            return refuse("\(error)", isInput: true)
        }
        let sequence = nextSequence
        nextSequence += 1
        requests[sequence] = ScheduledRequest(route: route, request: request, sequence: sequence, chat: chat,
                                              tokenizer: preparation.tokenizer)
        let preparation = self.preparation, sink = self.sink
        Task.detached {
            sink.yield(.prepared(sequence: sequence, Result { try preparation.prepare(chat) }))
        }
    }

    private func handlePrepared(_ sequence: UInt64, _ outcome: Result<PreparedPrompt, Error>) {
        guard var state = requests[sequence] else { return }  // cancelled meanwhile
        let prepared: PreparedPrompt
        switch outcome {
        case .success(let p): prepared = p
        case .failure(let error): return fail(sequence, "\(error)", isInput: true)
        }
        state.prepared = prepared
        state.result.promptIds = prepared.promptIDs.map(UInt32.init)
        state.result.tiles = prepared.tilesPerImage.map(UInt32.init)
        state.result.preprocessSeconds = prepared.preprocessSeconds
        state.clock = .now
        let tiles = prepared.totalTiles
        if tiles > 0 && visionWorker == nil {
            return fail(sequence, "the request has images but the cluster file has no vision worker", isInput: true)
        }
        do {
            try planner.add(BatchPlanner.SequenceSpec(
                id: sequence, priority: state.request.priority == .batch ? .batch : .interactive,
                promptIDs: prepared.promptIDs, imageContextTokenID: preparation.imageContextID,
                maxNewTokens: state.chat.settings.maxNewTokens, stopTokenID: preparation.stopID, awaitsEmbeddings: tiles > 0))
        } catch {
            return fail(sequence, "\(error)", isInput: true)
        }
        if tiles > 0, let visionWorker {
            var vision = Internvl_V1_VisionRequest()
            vision.requestID = sequence
            var pixelFrames: [ZMQFrame] = []
            vision.pixelValues = prepared.pixelValues.withUnsafeBufferPointer {
                TensorFrames.append($0.baseAddress!, rows: tiles, columns: prepared.pixelValues.count / tiles, to: &pixelFrames)
            }
            let message = WireMessage(.visionRequest(vision), tensorFrames: pixelFrames)
            state.pendingVision = message
            state.visionSentAt = .now
            requests[sequence] = state
            if deadSince[visionWorker] == nil { try? control.send(message, to: visionWorker) }
        } else {
            state.result.visionSeconds = state.lap()
            requests[sequence] = state
        }
    }

    // MARK: Workers

    private func handleWorker(_ worker: String, _ message: WireMessage) {
        switch message.envelope.body {
        case .visionResult(let answer): handleVision(answer, frames: message.tensorFrames)
        case .sampledTokens(let tokens): handleTokens(tokens)
        case .error(let report): handleError(report, from: worker)
        default: break
        }
    }

    private func handleVision(_ answer: Internvl_V1_VisionResult, frames: [ZMQFrame]) {
        let sequence = answer.requestID
        guard var state = requests[sequence], state.pendingVision != nil else { return }
        let hidden = preparation.configuration.llm.hiddenSize
        do {
            let (rows, columns) = try TensorFrames.validate(answer.embeddings, in: frames)
            guard columns == hidden else {
                return fail(sequence, "vision worker returned embeddings of width \(columns), expected \(hidden)", isInput: false)
            }
            guard rows == planner.imageRows(of: sequence) else {
                return fail(sequence, "vision worker returned \(rows) embedding rows for \(planner.imageRows(of: sequence)) <IMG_CONTEXT> tokens", isInput: false)
            }
            var embeddings = [Float](repeating: 0, count: rows * columns)
            try embeddings.withUnsafeMutableBufferPointer { try TensorFrames.read(answer.embeddings, from: frames, into: $0.baseAddress!) }
            state.embeddings = embeddings
        } catch {
            return fail(sequence, "vision worker answer: \(error)", isInput: false)
        }
        state.pendingVision = nil
        state.visionSentAt = nil
        state.result.visionSeconds = state.lap()
        requests[sequence] = state
        planner.embeddingsArrived(sequence)
    }

    private func handleTokens(_ tokens: Internvl_V1_SampledTokens) {
        batchSentAt[tokens.batchID] = nil
        var sampled: [UInt64: Int] = [:]
        for token in tokens.tokens { sampled[token.sequenceID] = Int(token.tokenID) }
        for outcome in planner.complete(batch: tokens.batchID, sampled: sampled) {
            switch outcome {
            case .advanced: break
            case .token(let sequence, let token, let finished): deliver(token, to: sequence, finished: finished)
            case .missingToken(let sequence):
                fail(sequence, "the last llm stage answered batch \(tokens.batchID) without a token for sequence \(sequence)", isInput: false)
            }
        }
    }

    /// Records a sampled token, streams it, and answers the request when it was the last.
    private func deliver(_ token: Int, to sequence: UInt64, finished: Bool) {
        guard var state = requests[sequence] else { return }
        if state.generated.isEmpty { state.result.prefillSeconds = state.lap() }
        state.generated.append(token)
        do {
            if state.detokenizer != nil {
                var delta = Internvl_V1_GenerateDelta()
                delta.requestID = state.request.requestID
                delta.tokenIds = [UInt32(token)]
                if token != preparation.stopID { delta.text = try state.detokenizer!.append(token) }
                send(.generateDelta(delta), to: state.route)
            }
            if finished {
                state.result.decodeSeconds = state.lap()
                state.result.ids = state.generated.map(UInt32.init)
                state.result.text = try preparation.responseText(generatedIDs: state.generated)
                if state.detokenizer != nil {
                    let rest = state.detokenizer!.finish()
                    if !rest.isEmpty {
                        var delta = Internvl_V1_GenerateDelta()
                        delta.requestID = state.request.requestID
                        delta.text = rest
                        send(.generateDelta(delta), to: state.route)
                    }
                }
                requests[sequence] = nil
                planner.remove(sequence)
                send(.generateResult(state.result), to: state.route)
                return
            }
        } catch {
            requests[sequence] = state
            return fail(sequence, "detokenizing token \(token): \(error)", isInput: false)
        }
        requests[sequence] = state
    }

    private func handleError(_ report: Internvl_V1_ErrorReport, from worker: String) {
        let reason = "worker \(worker): \(report.message)"
        if report.batchID != 0 {
            guard batchSentAt.removeValue(forKey: report.batchID) != nil else { return }  // a batch given up already
            let members = planner.abandon(batch: report.batchID)
            if report.sequenceID != 0 {
                fail(report.sequenceID, reason, isInput: false)  // the others are prefilled again
            } else {
                for sequence in members { fail(sequence, reason, isInput: false) }
            }
        } else if report.sequenceID != 0 {
            fail(report.sequenceID, reason, isInput: false)
        } else {
            log("\(reason)")
        }
    }

    // MARK: Time and liveness

    private func handleTick() {
        let now = ContinuousClock.now
        for (batch, sent) in batchSentAt where now - sent > workerTimeout {
            batchSentAt[batch] = nil
            for sequence in planner.abandon(batch: batch) {
                fail(sequence, "the llm stages did not answer batch \(batch) within \(workerTimeout)", isInput: false)
            }
        }
        for (sequence, state) in requests {
            if let sent = state.visionSentAt, now - sent > workerTimeout + (deadSince[visionWorker ?? ""] == nil ? .zero : replacementGrace) {
                fail(sequence, "vision worker \(visionWorker ?? "") did not answer within \(workerTimeout)", isInput: false)
            }
        }
    }

    /// Marks workers dead when their heartbeats stop, restarts sequences when a replacement registers, and fails
    /// requests when none came within `replacementGrace`.
    private func checkWorkers(_ now: ContinuousClock.Instant) {
        let health = control.health
        for name in stages + (visionWorker.map { [$0] } ?? []) {
            guard let worker = health[name] else { continue }
            let isStage = name != visionWorker
            guard let known = knownRegistrations[name] else {
                knownRegistrations[name] = worker.registrations
                continue
            }
            if worker.registrations != known {
                knownRegistrations[name] = worker.registrations
                deadSince[name] = nil
                if isStage {
                    let running = planner.runningCount
                    planner.restartAll()
                    batchSentAt.removeAll()
                    log("worker \(name) registered again: \(running) sequences are prefilled again from their prompt and tokens so far")
                } else {
                    let pending = requests.values.filter { $0.pendingVision != nil }
                    for state in pending {
                        try? control.send(state.pendingVision!, to: name)
                        requests[state.sequence]?.visionSentAt = now
                    }
                    log("worker \(name) registered again: \(pending.count) vision requests sent again")
                }
                continue
            }
            if deadSince[name] == nil && now - worker.lastSeen > heartbeatTimeout {
                deadSince[name] = now
                log("worker \(name) sent no heartbeat for \(heartbeatTimeout): marked dead, waiting \(replacementGrace) for a replacement")
                if isStage {
                    planner.restartAll()
                    batchSentAt.removeAll()
                }
            } else if deadSince[name] != nil && now - worker.lastSeen <= heartbeatTimeout {
                deadSince[name] = nil  // the same process came back: its sequences were restarted, nothing is lost
                log("worker \(name) heartbeats again")
            }
            if let since = deadSince[name], now - since > replacementGrace {
                let reason = "worker \(name) stopped sending heartbeats and no replacement registered within \(replacementGrace)"
                for (sequence, state) in requests where isStage || state.pendingVision != nil {
                    fail(sequence, reason, isInput: false)
                }
            }
        }
    }

    // MARK: Dispatch

    /// Frees finished sequences on the stages and sends every micro-batch the planner forms (none while a stage is
    /// dead).
    private func dispatch() {
        let freeable = planner.takeSequencesToFree()
        if !freeable.isEmpty {
            var message = Internvl_V1_FreeSequences()
            message.sequenceIds = freeable
            for stage in stages { try? control.send(WireMessage(.freeSequences(message)), to: stage) }
        }
        guard stages.allSatisfy({ deadSince[$0] == nil }), let firstStage = stages.first else { return }
        while let batch = planner.nextMicroBatch() {
            let hidden = preparation.configuration.llm.hiddenSize
            var forward = Internvl_V1_ForwardBatch()
            forward.batchID = batch.id
            var images: [Float] = []
            for planned in batch.chunks {
                guard let state = requests[planned.sequenceID] else { continue }
                var chunk = Internvl_V1_SequenceChunk()
                chunk.sequenceID = planned.sequenceID
                chunk.startPosition = UInt32(planned.startPosition)
                chunk.tokenIds = planned.tokenIDs.map(UInt32.init)
                chunk.sample = planned.sample
                chunk.maxPositions = UInt32(planned.maxPositions)
                chunk.imageContextTokenID = UInt32(preparation.imageContextID)
                chunk.sampling = state.sampling
                chunk.sampling.step = UInt32(planned.generatedCount)
                chunk.sampling.seed = state.sampling.seed &+ UInt64(planned.restartOffset)
                if planned.imageRowCount > 0 {
                    chunk.imageRowBegin = UInt32(images.count / hidden)
                    chunk.imageRowCount = UInt32(planned.imageRowCount)
                    images += state.embeddings[(planned.imageRowBegin * hidden)..<((planned.imageRowBegin + planned.imageRowCount) * hidden)]
                }
                forward.chunks.append(chunk)
            }
            var frames: [ZMQFrame] = []
            if !images.isEmpty {
                forward.imageEmbeddings = images.withUnsafeBufferPointer {
                    TensorFrames.append($0.baseAddress!, rows: images.count / hidden, columns: hidden, to: &frames)
                }
            }
            do {
                try control.send(WireMessage(.forwardBatch(forward), tensorFrames: frames), to: firstStage)
                batchSentAt[batch.id] = .now
            } catch {
                for sequence in planner.abandon(batch: batch.id) { fail(sequence, "cannot send batch \(batch.id): \(error)", isInput: false) }
            }
        }
    }

    // MARK: Answers

    /// Answers `sequence`'s request with an error and drops it (its KV caches are freed).
    private func fail(_ sequence: UInt64, _ message: String, isInput: Bool) {
        guard let state = requests.removeValue(forKey: sequence) else { return }
        planner.remove(sequence)
        var result = Internvl_V1_GenerateResult()
        result.requestID = state.request.requestID
        result.error = message
        result.inputError = isInput
        send(.generateResult(result), to: state.route)
    }

    private func send(_ body: Internvl_V1_Envelope.OneOf_Body, to route: [UInt8]) {
        guard let frames = try? WireMessage(body).frames() else { return }
        loop.send([ZMQFrame(route)] + frames)
    }

    /// What the cluster holds now: workers (from their heartbeats), waiting and running sequences.
    private func status() -> Internvl_V1_ClusterStatus {
        var status = Internvl_V1_ClusterStatus()
        let health = control.health
        for name in (visionWorker.map { [$0] } ?? []) + stages {
            var worker = Internvl_V1_ClusterStatus.Worker()
            worker.name = name
            if let known = health[name] {
                worker.registered = true
                worker.alive = deadSince[name] == nil && ContinuousClock.now - known.lastSeen <= heartbeatTimeout
                worker.activeSequences = UInt32(known.activeSequences)
                worker.kvCacheBytesUsed = UInt64(known.kvCacheBytesUsed)
            }
            status.workers.append(worker)
        }
        status.waitingRequests = UInt32(max(0, requests.count - planner.runningCount))
        status.runningSequences = UInt32(planner.runningCount)
        status.batchesInFlight = UInt32(planner.batchesInFlight)
        return status
    }
}
