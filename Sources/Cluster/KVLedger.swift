import Foundation
import Checkpoint

/// One LLM stage's KV-cache budget as the coordinator accounts it.
public struct StageKVBudget: Sendable, Equatable {
    /// The worker's name in the cluster file.
    public var worker: String
    /// `kv_cache_mb` of the worker, in bytes.
    public var budgetBytes: Int
    /// Bytes one sequence position takes on this stage: 2 x layers x kv heads x head dim x 4.
    public var bytesPerPosition: Int

    public init(worker: String, budgetBytes: Int, bytesPerPosition: Int) {
        self.worker = worker
        self.budgetBytes = budgetBytes
        self.bytesPerPosition = bytesPerPosition
    }

    /// The budgets of the LLM stages of `configuration` for `model`, in pipeline order (layer ranges as in the file,
    /// or split by speed when omitted, as `ClusterPlan` does).
    public static func stages(of configuration: ClusterConfiguration, model: LanguageModelConfiguration) -> [StageKVBudget] {
        let workers = configuration.workers.filter { $0.role == .llm }
        let ranges = workers.first?.layers != nil
            ? workers.map { ($0.layers ?? [0, 0])[0]..<($0.layers ?? [0, 0])[1] }
            : ClusterPlan.split(layerCount: model.layerCount, speeds: workers.map { $0.speed ?? 1 })
        let perLayer = 2 * model.kvHeadCount * model.headDim * 4
        return zip(workers, ranges).map { worker, layers in
            StageKVBudget(worker: worker.name, budgetBytes: (worker.kvCacheMB ?? ClusterConfiguration.Defaults.kvCacheMB) << 20,
                          bytesPerPosition: perLayer * layers.count)
        }
    }

    /// The budgets of the LLM stages of `plan`, in pipeline order.
    public static func stages(of plan: ClusterPlan) -> [StageKVBudget] {
        plan.placements.filter { $0.role == .llm }.map {
            StageKVBudget(worker: $0.worker, budgetBytes: $0.kvBudgetBytes,
                          bytesPerPosition: plan.kvBytesPerPositionPerLayer * $0.layers.count)
        }
    }
}

/// A request whose KV cache can never fit a stage's budget, even with the stage otherwise empty.
public struct KVAdmissionError: Error, CustomStringConvertible, Equatable {
    public let worker: String
    public let positions: Int
    public let neededBytes: Int
    public let budgetBytes: Int

    public var description: String {
        let needed = String(format: "%.1f", Double(neededBytes) / Double(1 << 20))
        return "prompt + max_new_tokens = \(positions) positions needs \(needed) MB of KV cache on \(worker), kv_cache_mb is \(budgetBytes >> 20)"
    }
}

/// KV-cache positions reserved on the LLM stages. Every sequence reserves the same positions (prompt +
/// max_new_tokens) on every stage, so one count serves all stages; each stage's bytes are that count times its own
/// bytes per position.
public struct KVLedger: Sendable, Equatable {
    public let stages: [StageKVBudget]
    /// Positions reserved by admitted sequences.
    public private(set) var reservedPositions = 0

    public init(stages: [StageKVBudget]) {
        self.stages = stages
    }

    /// The refusal for a sequence of `positions` positions that no stage state could ever hold, nil if it can fit.
    public func neverFits(positions: Int) -> KVAdmissionError? {
        for stage in stages where positions * stage.bytesPerPosition > stage.budgetBytes {
            return KVAdmissionError(worker: stage.worker, positions: positions,
                                    neededBytes: positions * stage.bytesPerPosition, budgetBytes: stage.budgetBytes)
        }
        return nil
    }

    /// Whether `positions` more positions fit every stage now.
    public func fits(positions: Int) -> Bool {
        stages.allSatisfy { (reservedPositions + positions) * $0.bytesPerPosition <= $0.budgetBytes }
    }

    /// Reserves `positions` (call only after `fits`).
    public mutating func reserve(positions: Int) { reservedPositions += positions }

    /// Returns `positions` reserved earlier.
    public mutating func release(positions: Int) { reservedPositions = max(0, reservedPositions - positions) }
}
