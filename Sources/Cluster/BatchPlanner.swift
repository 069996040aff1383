import Foundation

/// The coordinator's scheduling policy as pure logic (no sockets, no clocks): which sequences run in which
/// forward micro-batch of the LLM pipeline.
///
/// A sequence is **waiting** until its KV positions are reserved (see `KVLedger`) and its image embeddings are
/// back, then **prefilling** (its prompt, in chunks), then **decoding** (one token per micro-batch), then **done**
/// (stop token or max_new_tokens). Each `nextMicroBatch()`:
/// - runs only while fewer than `stageCount` micro-batches are in flight, so with S stages up to S micro-batches fill
///   the pipeline; a sequence is never in two in-flight micro-batches (its next chunk depends on the previous one);
/// - takes ready sequences in order: interactive decodes, interactive prefills, batch decodes, batch prefills (batch
///   work fills what interactive work leaves), oldest first within each;
/// - takes at most ceil(ready / free slots) sequences, so the ready sequences spread over the free pipeline slots
///   instead of all riding in one micro-batch while the other stages idle;
/// - spends at most `tokenBudget` token rows: a decode costs one row, a prefill chunk as many rows as it has tokens;
///   a prompt longer than what is left continues in the next micro-batch at `startPosition > 0`, with the image
///   rows of exactly the `<IMG_CONTEXT>` tokens inside the chunk.
///
/// Admission reserves prompt + max_new_tokens positions on every stage; requests wait (interactive first, then in
/// arrival order) while they do not fit, and one that could never fit is refused at once by `add`.
///
/// After a stage is lost, `restartAll()` sends every unfinished sequence back to prefill from position 0 over its
/// prompt plus the tokens generated so far, so generation continues where it stopped.
public struct BatchPlanner: Sendable {
    /// How urgently a sequence wants the pipeline.
    public enum Priority: Int, Sendable, Comparable {
        case interactive = 0
        case batch = 1
        public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
    }

    /// Where a sequence is in its life.
    public enum Phase: Sendable, Equatable {
        case waiting, prefilling, decoding, done
    }

    /// What the planner needs to know about a new sequence.
    public struct SequenceSpec: Sendable {
        public var id: UInt64
        public var priority: Priority
        public var promptIDs: [Int]
        /// `<IMG_CONTEXT>`; its positions in the prompt take the image embedding rows, in order.
        public var imageContextTokenID: Int
        public var maxNewTokens: Int
        public var stopTokenID: Int
        /// Whether image embeddings must arrive (`embeddingsArrived`) before the prefill may start.
        public var awaitsEmbeddings: Bool

        public init(id: UInt64, priority: Priority = .interactive, promptIDs: [Int], imageContextTokenID: Int,
                    maxNewTokens: Int, stopTokenID: Int, awaitsEmbeddings: Bool = false) {
            self.id = id
            self.priority = priority
            self.promptIDs = promptIDs
            self.imageContextTokenID = imageContextTokenID
            self.maxNewTokens = maxNewTokens
            self.stopTokenID = stopTokenID
            self.awaitsEmbeddings = awaitsEmbeddings
        }
    }

    /// One sequence's share of a micro-batch.
    public struct Chunk: Sendable, Equatable {
        public var sequenceID: UInt64
        /// Positions already in the stages' KV caches.
        public var startPosition: Int
        public var tokenIDs: [Int]
        /// Rows of the sequence's own image embeddings spliced into this chunk.
        public var imageRowBegin: Int
        public var imageRowCount: Int
        /// Whether the last stage samples a token after this chunk (the chunk reaches the end of what is known).
        public var sample: Bool
        /// prompt + max_new_tokens: the KV capacity a stage allocates at position 0.
        public var maxPositions: Int
        /// Tokens generated before this chunk (the sampler's step).
        public var generatedCount: Int
        /// Tokens generated before the sequence last (re)started at position 0: a restarted sampler is seeded
        /// with it so a resumed sampled sequence draws a reproducible stream.
        public var restartOffset: Int
    }

    /// A micro-batch to send to the first stage.
    public struct MicroBatch: Sendable, Equatable {
        public var id: UInt64
        public var chunks: [Chunk]
        /// Token rows in the batch.
        public var rows: Int { chunks.reduce(0) { $0 + $1.tokenIDs.count } }
    }

    /// What a completed micro-batch did to one sequence.
    public enum Outcome: Sendable, Equatable {
        /// A prefill chunk landed in the KV caches; no token yet.
        case advanced(sequence: UInt64)
        /// A token was sampled; `finished` when it was the stop token or the last allowed one.
        case token(sequence: UInt64, token: Int, finished: Bool)
        /// The last stage answered without the token this chunk asked for.
        case missingToken(sequence: UInt64)
    }

    private struct Sequence: Sendable {
        var spec: SequenceSpec
        var arrival: Int
        var admitted = false
        var embeddingsReady: Bool
        /// Positions in the stages' KV caches.
        var cached = 0
        var generated: [Int] = []
        var inFlightBatch: UInt64?
        var finished = false
        /// Removed while in flight: freed when its batch comes back.
        var removed = false
        var restartOffset = 0
        /// Prefix counts of `<IMG_CONTEXT>` in the prompt: `imageRowsBefore[p]` rows precede position p.
        var imageRowsBefore: [Int]

        var positions: Int { spec.promptIDs.count + spec.maxNewTokens }
        var contextCount: Int { spec.promptIDs.count + generated.count }
        var ready: Bool { admitted && embeddingsReady && inFlightBatch == nil && !finished && !removed }
        var phase: Phase {
            if finished { return .done }
            if !admitted || !embeddingsReady { return .waiting }
            return cached + 1 >= contextCount && !generated.isEmpty ? .decoding : .prefilling
        }

        func token(at position: Int) -> Int {
            position < spec.promptIDs.count ? spec.promptIDs[position] : generated[position - spec.promptIDs.count]
        }
    }

    /// Number of LLM stages: micro-batches that may be in flight at once.
    public let stageCount: Int
    /// Token rows per micro-batch.
    public let tokenBudget: Int
    public private(set) var kv: KVLedger
    private var sequences: [UInt64: Sequence] = [:]
    /// In-flight micro-batches: each member sequence with its token rows, in batch order.
    private var inFlight: [UInt64: [(sequence: UInt64, rows: Int)]] = [:]
    private var nextBatchID: UInt64 = 1
    private var arrivals = 0
    private var toFree: [UInt64] = []

    public init(stageCount: Int, tokenBudget: Int = 512, kv: KVLedger) {
        precondition(stageCount >= 1 && tokenBudget >= 1)
        self.stageCount = stageCount
        self.tokenBudget = tokenBudget
        self.kv = kv
    }

    /// Micro-batches sent and not yet completed.
    public var batchesInFlight: Int { inFlight.count }

    /// Sequences in the table (any phase).
    public var sequenceCount: Int { sequences.count }

    /// Sequences waiting for KV room or embeddings.
    public var waitingCount: Int { sequences.values.filter { $0.phase == .waiting }.count }

    /// Sequences prefilling or decoding.
    public var runningCount: Int { sequences.values.filter { $0.phase == .prefilling || $0.phase == .decoding }.count }

    /// The phase of `sequence`, nil when it is not in the table.
    public func phase(of sequence: UInt64) -> Phase? { sequences[sequence]?.phase }

    /// Tokens generated so far for `sequence`.
    public func generated(of sequence: UInt64) -> [Int] { sequences[sequence]?.generated ?? [] }

    /// Adds a sequence; it is admitted as soon as its KV positions fit.
    /// - Throws: `KVAdmissionError` when prompt + max_new_tokens positions exceed a stage's whole budget.
    public mutating func add(_ spec: SequenceSpec) throws {
        precondition(sequences[spec.id] == nil, "sequence \(spec.id) added twice")
        precondition(!spec.promptIDs.isEmpty && spec.maxNewTokens >= 1)
        var sequence = Sequence(spec: spec, arrival: arrivals, embeddingsReady: !spec.awaitsEmbeddings, imageRowsBefore: [])
        if let refusal = kv.neverFits(positions: sequence.positions) { throw refusal }
        arrivals += 1
        var count = 0
        sequence.imageRowsBefore.reserveCapacity(spec.promptIDs.count + 1)
        for id in spec.promptIDs {
            sequence.imageRowsBefore.append(count)
            if id == spec.imageContextTokenID { count += 1 }
        }
        sequence.imageRowsBefore.append(count)
        sequences[spec.id] = sequence
        admitWaiting()
    }

    /// The image rows `sequence`'s prompt needs (its `<IMG_CONTEXT>` tokens).
    public func imageRows(of sequence: UInt64) -> Int { sequences[sequence]?.imageRowsBefore.last ?? 0 }

    /// Marks `sequence`'s image embeddings as arrived: its prefill may start.
    public mutating func embeddingsArrived(_ sequence: UInt64) {
        sequences[sequence]?.embeddingsReady = true
    }

    /// Reserves KV for waiting sequences in order (interactive first, then arrival) while they fit.
    private mutating func admitWaiting() {
        let waiting = sequences.values.filter { !$0.admitted && !$0.finished && !$0.removed }
            .sorted { ($0.spec.priority, $0.arrival) < ($1.spec.priority, $1.arrival) }
        for sequence in waiting {
            guard kv.fits(positions: sequence.positions) else { return }
            kv.reserve(positions: sequence.positions)
            sequences[sequence.spec.id]?.admitted = true
        }
    }

    /// The next micro-batch, or nil when `stageCount` are in flight or no sequence is ready.
    public mutating func nextMicroBatch() -> MicroBatch? {
        let freeSlots = stageCount - inFlight.count
        guard freeSlots > 0 else { return nil }
        let ready = sequences.values.filter(\.ready).sorted { a, b in
            let keyA = (a.spec.priority.rawValue, a.phase == .decoding ? 0 : 1, a.arrival)
            let keyB = (b.spec.priority.rawValue, b.phase == .decoding ? 0 : 1, b.arrival)
            return keyA < keyB
        }
        guard !ready.isEmpty else { return nil }
        let share = (ready.count + freeSlots - 1) / freeSlots
        var budget = tokenBudget
        var chunks: [Chunk] = []
        for sequence in ready.prefix(share) {
            guard budget > 0 else { break }
            let start = sequence.cached
            let pending = sequence.contextCount - start
            let count = min(pending, budget)
            budget -= count
            let end = start + count
            let promptEnd = sequence.spec.promptIDs.count
            let imageBegin = sequence.imageRowsBefore[min(start, promptEnd)]
            let imageEnd = sequence.imageRowsBefore[min(end, promptEnd)]
            chunks.append(Chunk(sequenceID: sequence.spec.id, startPosition: start,
                                tokenIDs: (start..<end).map(sequence.token(at:)),
                                imageRowBegin: imageBegin, imageRowCount: imageEnd - imageBegin,
                                sample: end == sequence.contextCount, maxPositions: sequence.positions,
                                generatedCount: sequence.generated.count, restartOffset: sequence.restartOffset))
        }
        let id = nextBatchID
        nextBatchID += 1
        for chunk in chunks { sequences[chunk.sequenceID]?.inFlightBatch = id }
        inFlight[id] = chunks.map { (sequence: $0.sequenceID, rows: $0.tokenIDs.count) }
        return MicroBatch(id: id, chunks: chunks)
    }

    /// Applies the last stage's answer to micro-batch `batch` (`sampled`: token per sequence). Unknown or abandoned
    /// batches, and sequences removed meanwhile, are ignored. Finished sequences release their KV reservation.
    public mutating func complete(batch: UInt64, sampled: [UInt64: Int]) -> [Outcome] {
        guard let members = land(batch) else { return [] }
        var outcomes: [Outcome] = []
        for (var sequence, rows) in members {
            let id = sequence.spec.id
            let end = min(sequence.contextCount, sequence.cached + rows)
            sequence.cached = end
            if end == sequence.contextCount {
                if let token = sampled[id] {
                    sequence.generated.append(token)
                    let finished = token == sequence.spec.stopTokenID || sequence.generated.count >= sequence.spec.maxNewTokens
                    if finished { finish(&sequence) }
                    outcomes.append(.token(sequence: id, token: token, finished: finished))
                } else {
                    outcomes.append(.missingToken(sequence: id))
                }
            } else {
                outcomes.append(.advanced(sequence: id))
            }
            sequences[id] = sequence
        }
        admitWaiting()
        return outcomes
    }

    private mutating func finish(_ sequence: inout Sequence) {
        sequence.finished = true
        if sequence.admitted { kv.release(positions: sequence.positions) }
        sequence.admitted = false
        toFree.append(sequence.spec.id)
    }

    /// Drops micro-batch `batch` (a stage reported an error for it): its sequences go back to prefill from position
    /// 0 (the stage may hold part of the batch). Returns them.
    public mutating func abandon(batch: UInt64) -> [UInt64] {
        guard let members = land(batch) else { return [] }
        var restarted: [UInt64] = []
        for (var sequence, _) in members {
            restart(&sequence)
            sequences[sequence.spec.id] = sequence
            restarted.append(sequence.spec.id)
        }
        return restarted
    }

    /// Takes micro-batch `batch` out of flight: its sequences leave it, and those removed meanwhile are dropped and
    /// queued for freeing. Returns the members still live with their rows in the batch (to update and store back),
    /// or nil for an unknown or already landed batch.
    private mutating func land(_ batch: UInt64) -> [(sequence: Sequence, rows: Int)]? {
        guard let members = inFlight.removeValue(forKey: batch) else { return nil }
        var live: [(sequence: Sequence, rows: Int)] = []
        for (id, rows) in members {
            guard var sequence = sequences[id], sequence.inFlightBatch == batch else { continue }
            sequence.inFlightBatch = nil
            if sequence.removed {
                sequences[id] = nil
                toFree.append(id)
                continue
            }
            sequences[id] = sequence
            live.append((sequence, rows))
        }
        return live
    }

    /// After a stage was lost: forgets every in-flight micro-batch and sends every unfinished sequence back to
    /// prefill from position 0 over its prompt and the tokens generated so far.
    public mutating func restartAll() {
        inFlight.removeAll()
        for id in Array(sequences.keys) {
            guard var sequence = sequences[id] else { continue }
            sequence.inFlightBatch = nil
            if sequence.removed {
                sequences[id] = nil
                continue
            }
            if !sequence.finished { restart(&sequence) }
            sequences[id] = sequence
        }
    }

    private func restart(_ sequence: inout Sequence) {
        sequence.restartOffset = sequence.generated.count
        sequence.cached = 0
    }

    /// Removes `sequence` (answered, cancelled or failed): releases its KV reservation; its stage caches are freed
    /// now, or when its in-flight micro-batch comes back.
    public mutating func remove(_ id: UInt64) {
        guard var sequence = sequences[id] else { return }
        if sequence.admitted { kv.release(positions: sequence.positions) }
        sequence.admitted = false
        if sequence.inFlightBatch != nil {
            sequence.removed = true
            sequences[id] = sequence
        } else {
            sequences[id] = nil
            if !sequence.finished && sequence.cached > 0 { toFree.append(id) }
        }
        admitWaiting()
    }

    /// Sequences whose KV caches the stages may drop now (finished, or removed and no longer in flight); each is
    /// returned once.
    public mutating func takeSequencesToFree() -> [UInt64] {
        defer { toFree.removeAll() }
        return toFree
    }
}
