import Cluster
import Foundation
import Testing

/// The scheduling policy, driven in process by a toy pipeline that keeps a "KV cache" (the tokens fed) per sequence
/// and samples a token from everything fed so far, so any wrong chunk (position, tokens, image rows) changes tokens.
@Suite struct BatchPlannerTests {
    static let imageContext = 99
    static let stop = 3

    /// A stand-in for the LLM stages: checks each chunk against what it holds and "samples" deterministically.
    struct ToyPipeline {
        /// Per sequence: the inputs fed (image context positions replaced by 1000 + their image row).
        var caches: [UInt64: [Int]] = [:]
        var problems: [String] = []

        static func sample(_ context: [Int]) -> Int {
            var hash = 17
            for (index, value) in context.enumerated() { hash = (hash &* 31 &+ value &* (index + 7)) & 0xFFFF }
            return 3 + hash % 40 // 3 is the stop token
        }

        mutating func run(_ batch: BatchPlanner.MicroBatch) -> [UInt64: Int] {
            var sampled: [UInt64: Int] = [:]
            for chunk in batch.chunks {
                var cache = chunk.startPosition == 0 ? [] : caches[chunk.sequenceID] ?? []
                if cache.count != chunk.startPosition {
                    problems.append("sequence \(chunk.sequenceID) continues at \(chunk.startPosition), cache holds \(cache.count)")
                }
                let contexts = chunk.tokenIDs.filter { $0 == BatchPlannerTests.imageContext }.count
                if contexts != chunk.imageRowCount {
                    problems.append("sequence \(chunk.sequenceID): \(contexts) context tokens, \(chunk.imageRowCount) image rows")
                }
                var row = chunk.imageRowBegin
                for token in chunk.tokenIDs {
                    if token == BatchPlannerTests.imageContext {
                        cache.append(1000 + row)
                        row += 1
                    } else {
                        cache.append(token)
                    }
                }
                caches[chunk.sequenceID] = cache
                if chunk.sample { sampled[chunk.sequenceID] = Self.sample(cache) }
            }
            return sampled
        }
    }

    /// What one uninterrupted sequence generates: feed the whole prompt, then one token at a time.
    static func reference(prompt: [Int], maxNewTokens: Int) -> [Int] {
        var row = 0
        var context = prompt.map { token -> Int in
            guard token == imageContext else { return token }
            row += 1
            return 1000 + row - 1
        }
        var generated: [Int] = []
        while generated.count < maxNewTokens {
            let token = ToyPipeline.sample(context)
            generated.append(token)
            context.append(token)
            if token == stop { break }
        }
        return generated
    }

    static func ledger(positions: Int, stages: Int = 2) -> KVLedger {
        KVLedger(stages: (0..<stages).map { StageKVBudget(worker: "llm-\($0)", budgetBytes: positions * 512, bytesPerPosition: 512) })
    }

    static func spec(_ id: UInt64, _ prompt: [Int], new: Int, priority: BatchPlanner.Priority = .interactive) -> BatchPlanner.SequenceSpec {
        BatchPlanner.SequenceSpec(id: id, priority: priority, promptIDs: prompt, imageContextTokenID: imageContext,
                                  maxNewTokens: new, stopTokenID: stop)
    }

    /// Runs the planner to completion with `stages` micro-batches in flight, completing the oldest each step.
    /// Returns the tokens per sequence, the largest in-flight count seen and the problems found.
    static func drive(_ planner: inout BatchPlanner, pipeline: inout ToyPipeline, stages: Int,
                      maxSteps: Int = 10_000) -> (tokens: [UInt64: [Int]], maxInFlight: Int, problems: [String]) {
        var tokens: [UInt64: [Int]] = [:]
        var queue: [BatchPlanner.MicroBatch] = []
        var maxInFlight = 0
        var problems: [String] = []
        for _ in 0..<maxSteps {
            while let batch = planner.nextMicroBatch() {
                if batch.chunks.isEmpty { problems.append("empty micro-batch \(batch.id)") }
                if batch.rows > planner.tokenBudget { problems.append("batch \(batch.id) has \(batch.rows) rows") }
                let members = Set(batch.chunks.map(\.sequenceID))
                if members.count != batch.chunks.count { problems.append("batch \(batch.id) repeats a sequence") }
                for other in queue where !members.isDisjoint(with: other.chunks.map(\.sequenceID)) {
                    problems.append("a sequence of batch \(batch.id) is also in flight in batch \(other.id)")
                }
                queue.append(batch)
                maxInFlight = max(maxInFlight, queue.count)
                if queue.count > stages { problems.append("\(queue.count) batches in flight for \(stages) stages") }
            }
            guard !queue.isEmpty else { break }
            let batch = queue.removeFirst()
            for outcome in planner.complete(batch: batch.id, sampled: pipeline.run(batch)) {
                if case .token(let sequence, let token, let finished) = outcome {
                    tokens[sequence, default: []].append(token)
                    if finished { planner.remove(sequence) }
                }
            }
        }
        return (tokens, maxInFlight, problems + pipeline.problems)
    }

    @Test func chunkedPrefillAndDecodeMatchAnUninterruptedRun() throws {
        var planner = BatchPlanner(stageCount: 2, tokenBudget: 16, kv: Self.ledger(positions: 10_000))
        let c = Self.imageContext
        let prompts: [[Int]] = [
            [1, 5, 6, 7],
            [1] + Array(repeating: c, count: 20) + [8, 9, 10],  // image rows spread over two chunks
            Array(1...37),
            [1, 4, c, c, c, 11, c, c, 12] + Array(20...40),
            [1, 2],
        ]
        for (index, prompt) in prompts.enumerated() {
            try planner.add(Self.spec(UInt64(index + 1), prompt, new: 9))
        }
        var pipeline = ToyPipeline()
        let run = Self.drive(&planner, pipeline: &pipeline, stages: 2)
        #expect(run.problems.isEmpty, "\(run.problems)")
        #expect(run.maxInFlight == 2, "the pipeline of 2 stages was filled")
        for (index, prompt) in prompts.enumerated() {
            let expected = Self.reference(prompt: prompt, maxNewTokens: 9)
            #expect(run.tokens[UInt64(index + 1)] == expected, "sequence \(index + 1)")
        }
        #expect(planner.sequenceCount == 0)
        #expect(planner.kv.reservedPositions == 0)
    }

    @Test func phasesMoveFromWaitingThroughPrefillAndDecodeToDone() throws {
        var planner = BatchPlanner(stageCount: 1, tokenBudget: 4, kv: Self.ledger(positions: 100))
        var spec = Self.spec(7, [1, Self.imageContext, Self.imageContext, 5, 6, 8], new: 2)
        spec.awaitsEmbeddings = true
        try planner.add(spec)
        #expect(planner.phase(of: 7) == .waiting)
        #expect(planner.imageRows(of: 7) == 2)
        #expect(planner.nextMicroBatch() == nil, "no prefill before the embeddings are back")
        planner.embeddingsArrived(7)
        #expect(planner.phase(of: 7) == .prefilling)
        var pipeline = ToyPipeline()
        let firstPlanned = planner.nextMicroBatch()
        let first = try #require(firstPlanned)
        #expect(first.chunks.map(\.tokenIDs) == [[1, Self.imageContext, Self.imageContext, 5]])
        #expect(first.chunks[0].imageRowBegin == 0 && first.chunks[0].imageRowCount == 2 && !first.chunks[0].sample)
        #expect(planner.nextMicroBatch() == nil, "one stage: one micro-batch in flight")
        #expect(planner.complete(batch: first.id, sampled: pipeline.run(first)) == [.advanced(sequence: 7)])
        let secondPlanned = planner.nextMicroBatch()
        let second = try #require(secondPlanned)
        #expect(second.chunks[0].startPosition == 4 && second.chunks[0].tokenIDs == [6, 8] && second.chunks[0].sample)
        #expect(second.chunks[0].imageRowCount == 0)
        let outcome = planner.complete(batch: second.id, sampled: pipeline.run(second))
        guard case .token(7, let token, _) = outcome.first else {
            Issue.record("expected a token, got \(outcome)")
            return
        }
        if token != Self.stop {
            #expect(planner.phase(of: 7) == .decoding)
            let thirdPlanned = planner.nextMicroBatch()
        let third = try #require(thirdPlanned)
            #expect(third.chunks[0].startPosition == 6 && third.chunks[0].tokenIDs == [token])
            _ = planner.complete(batch: third.id, sampled: pipeline.run(third))
        }
        #expect(planner.phase(of: 7) == .done)
        #expect(planner.takeSequencesToFree() == [7])
        #expect(planner.kv.reservedPositions == 0)
        planner.remove(7)
        #expect(planner.phase(of: 7) == nil)
        #expect(planner.takeSequencesToFree().isEmpty, "a finished sequence is freed once")
    }

    @Test func interactiveWorkGoesBeforeBatchWork() throws {
        var planner = BatchPlanner(stageCount: 1, tokenBudget: 8, kv: Self.ledger(positions: 1000))
        try planner.add(Self.spec(1, Array(1...20), new: 4, priority: .batch))
        try planner.add(Self.spec(2, Array(2...7), new: 4, priority: .interactive))
        let firstPlanned = planner.nextMicroBatch()
        let first = try #require(firstPlanned)
        #expect(first.chunks.map(\.sequenceID) == [2, 1], "the interactive prompt first, batch work fills the rest")
        #expect(first.chunks.map(\.tokenIDs.count) == [6, 2])

        // With the pipeline busy, the interactive sequence's decode again comes before the batch prefill.
        var pipeline = ToyPipeline()
        _ = planner.complete(batch: first.id, sampled: pipeline.run(first))
        let secondPlanned = planner.nextMicroBatch()
        let second = try #require(secondPlanned)
        #expect(second.chunks.first?.sequenceID == 2 && second.chunks.first?.tokenIDs.count == 1)
        #expect(second.chunks.last?.sequenceID == 1 && second.chunks.last?.startPosition == 2)
    }

    @Test func kvAdmissionWaitsForRoomAndRefusesWhatCanNeverFit() throws {
        var planner = BatchPlanner(stageCount: 2, tokenBudget: 64, kv: Self.ledger(positions: 100))
        try planner.add(Self.spec(1, Array(1...40), new: 20))  // 60 positions
        try planner.add(Self.spec(2, Array(1...30), new: 20))  // 50: does not fit beside the first
        #expect(planner.phase(of: 1) == .prefilling)
        #expect(planner.phase(of: 2) == .waiting)
        #expect(planner.kv.reservedPositions == 60)

        #expect {
            try planner.add(Self.spec(3, Array(1...150), new: 10))
        } throws: { error in
            let text = "\(error)"
            return text.contains("160 positions") && text.contains("MB of KV cache on llm-0") && text.contains("kv_cache_mb is 0")
        }
        #expect(planner.phase(of: 3) == nil, "a refused sequence is not kept")

        // Removing the first makes room: the second is admitted.
        planner.remove(1)
        #expect(planner.phase(of: 2) == .prefilling)
        #expect(planner.kv.reservedPositions == 50)
        let ledger = KVLedger(stages: [StageKVBudget(worker: "llm-b", budgetBytes: 1 << 20, bytesPerPosition: 512)])
        #expect(ledger.neverFits(positions: 2049)?.description
                == "prompt + max_new_tokens = 2049 positions needs 1.0 MB of KV cache on llm-b, kv_cache_mb is 1")
        #expect(ledger.neverFits(positions: 2048) == nil)
    }

    @Test func aSequenceRemovedInFlightIsFreedWhenItsBatchReturns() throws {
        var planner = BatchPlanner(stageCount: 2, tokenBudget: 64, kv: Self.ledger(positions: 1000))
        try planner.add(Self.spec(1, [1, 2, 3, 4], new: 5))
        try planner.add(Self.spec(2, [1, 5, 6], new: 5))
        let batchPlanned = planner.nextMicroBatch()
        let batch = try #require(batchPlanned)
        #expect(batch.chunks.count == 1, "two ready sequences spread over two free slots")
        let otherPlanned = planner.nextMicroBatch()
        let other = try #require(otherPlanned)
        let cancelled = batch.chunks[0].sequenceID
        planner.remove(cancelled)
        #expect(planner.takeSequencesToFree().isEmpty, "not freed while its batch is on the stages")
        var pipeline = ToyPipeline()
        #expect(planner.complete(batch: batch.id, sampled: pipeline.run(batch)).isEmpty)
        #expect(planner.takeSequencesToFree() == [cancelled])
        let outcomes = planner.complete(batch: other.id, sampled: pipeline.run(other))
        #expect(outcomes.count == 1)
        #expect(planner.phase(of: cancelled) == nil)
    }

    @Test func restartAfterAStageLossContinuesTheSameTokens() throws {
        var planner = BatchPlanner(stageCount: 2, tokenBudget: 8, kv: Self.ledger(positions: 1000))
        let prompts: [[Int]] = [Array(1...11), [1, Self.imageContext, Self.imageContext, 4, 5]]
        for (index, prompt) in prompts.enumerated() { try planner.add(Self.spec(UInt64(index + 1), prompt, new: 12)) }
        var pipeline = ToyPipeline()
        var tokens: [UInt64: [Int]] = [:]
        // Run a few micro-batches, then lose a stage with two batches in flight.
        for _ in 0..<6 {
            guard let batch = planner.nextMicroBatch() else { break }
            for case .token(let sequence, let token, _) in planner.complete(batch: batch.id, sampled: pipeline.run(batch)) {
                tokens[sequence, default: []].append(token)
            }
        }
        _ = planner.nextMicroBatch()
        _ = planner.nextMicroBatch()
        #expect(planner.batchesInFlight > 0)
        planner.restartAll()
        pipeline.caches.removeAll()  // the replacement stage holds nothing
        #expect(planner.batchesInFlight == 0)
        let restartedPlanned = planner.nextMicroBatch()
        let restarted = try #require(restartedPlanned)
        #expect(restarted.chunks.allSatisfy { $0.startPosition == 0 })
        #expect(restarted.chunks.allSatisfy { $0.restartOffset == (tokens[$0.sequenceID]?.count ?? 0) })
        for case .token(let sequence, let token, let finished) in planner.complete(batch: restarted.id, sampled: pipeline.run(restarted)) {
            tokens[sequence, default: []].append(token)
            if finished { planner.remove(sequence) }
        }
        let rest = Self.drive(&planner, pipeline: &pipeline, stages: 2)
        #expect(rest.problems.isEmpty, "\(rest.problems)")
        for (index, prompt) in prompts.enumerated() {
            let id = UInt64(index + 1)
            #expect((tokens[id] ?? []) + (rest.tokens[id] ?? []) == Self.reference(prompt: prompt, maxNewTokens: 12), "sequence \(id)")
        }
    }

    @Test func anAbandonedBatchRestartsItsSequences() throws {
        var planner = BatchPlanner(stageCount: 1, tokenBudget: 64, kv: Self.ledger(positions: 1000))
        try planner.add(Self.spec(1, [1, 2, 3], new: 3))
        let batchPlanned = planner.nextMicroBatch()
        let batch = try #require(batchPlanned)
        #expect(planner.abandon(batch: batch.id) == [1])
        #expect(planner.complete(batch: batch.id, sampled: [1: 5]).isEmpty, "a late answer to an abandoned batch is ignored")
        let againPlanned = planner.nextMicroBatch()
        let again = try #require(againPlanned)
        #expect(again.chunks.map(\.startPosition) == [0] && again.chunks[0].tokenIDs == [1, 2, 3])
    }
}
