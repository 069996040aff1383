import Checkpoint
import Cluster
import Foundation
import Testing
import TestSupport

@Suite struct ClusterConfigurationTests {
    let base = """
        model: { path: /models/m, weights: q8_0 }
        coordinator: { control: "tcp://127.0.0.1:5550", clients: "tcp://127.0.0.1:5551" }
        workers:
          - { name: vit, role: vision }
          - { name: a, role: llm, layers: [0, 1], kv_cache_mb: 64 }
          - { name: b, role: llm, layers: [1, 2], kv_cache_mb: 64 }
        """

    func expectError(_ yaml: String, field: String?, mentioning words: [String] = []) {
        #expect {
            _ = try ClusterConfiguration.parse(yaml, file: "c.yaml")
        } throws: { error in
            guard let error = error as? ClusterConfigurationError else { return false }
            let ok = error.field == field && words.allSatisfy { error.description.contains($0) }
                && error.description.hasPrefix("c.yaml: ") && !error.description.contains("\n")
            if !ok { Issue.record("got: \(error)") }
            return ok
        }
    }

    @Test func repositoryClusterFileIsValidAndPlansTwoStages() throws {
        let path = Fixtures.packageRoot.appendingPathComponent("cluster.yaml").path
        let configuration = try ClusterConfiguration.load(path: path)
        #expect(configuration.workers.map(\.name) == ["vit-a", "llm-a", "llm-b"])
        let modelURL = URL(fileURLWithPath: configuration.model.path)
        let plan = try ClusterPlan(configuration: configuration, model: InternVLConfiguration(directory: modelURL),
                                   store: CheckpointStore(directory: modelURL), file: path)
        let llm = plan.placements.filter { $0.role == .llm }
        #expect(llm.map(\.layers) == [0..<1, 1..<2])
        #expect(llm.map(\.hasEmbeddings) == [true, false] && llm.map(\.hasHead) == [false, true])
        #expect(plan.linkBytesPerToken == 128 * 4)
        // 64 MiB over one layer of 2 kv heads x 32 dims x (k + v) x 4 bytes = 512 bytes per token.
        #expect(llm[0].kvTokenCapacity == (64 << 20) / 512)
    }

    @Test func parsesDefaults() throws {
        let configuration = try ClusterConfiguration.parse(base, file: "c.yaml")
        #expect(configuration.weightFormat == "q8_0")
        #expect(configuration.activationEncoding == "f32")
        #expect(configuration.effectiveLimits.maxTiles == 12 && configuration.effectiveLimits.maxNewTokens == 1024)
    }

    @Test func typeErrorsNameTheFieldPath() {
        expectError(base.replacingOccurrences(of: "{ name: a, role: llm,", with: "{ name: a, role: llm, threads: two,"),
                    field: nil, mentioning: ["workers[1].threads", "integer"])
        expectError(base.replacingOccurrences(of: "role: vision", with: "role: gpu"), field: nil, mentioning: ["workers[0].role"])
        expectError(base.replacingOccurrences(of: "control: \"tcp://127.0.0.1:5550\", ", with: ""),
                    field: nil, mentioning: ["coordinator.control", "missing"])
        expectError("model: [unclosed", field: nil)
    }

    @Test func meaningErrorsNameTheField() {
        expectError(base.replacingOccurrences(of: "weights: q8_0", with: "weights: q3_k"), field: "model.weights", mentioning: ["q3_k"])
        expectError(base.replacingOccurrences(of: "name: b,", with: "name: a,"), field: "workers[2].name", mentioning: ["used twice"])
        expectError(base.replacingOccurrences(of: "layers: [1, 2]", with: "layers: [0, 2]"),
                    field: "workers[2].layers", mentioning: ["contiguous"])
        expectError(base.replacingOccurrences(of: "layers: [1, 2]", with: "layers: [2, 2]"), field: "workers[2].layers")
        expectError(base.replacingOccurrences(of: ", layers: [1, 2]", with: ""), field: "workers[2].layers",
                    mentioning: ["every llm worker or on none"])
        expectError(base.replacingOccurrences(of: "  - { name: vit, role: vision }\n", with: ""), field: "workers",
                    mentioning: ["no vision worker"])
        expectError(base.replacingOccurrences(of: "tcp://127.0.0.1:5551", with: "http://x"), field: "coordinator.clients")
        expectError(base + "\nlimits: { max_tiles: 41 }", field: "limits.max_tiles", mentioning: ["1...40"])
        expectError(base + "\nactivations: fp8", field: "activations")
        expectError(base.replacingOccurrences(of: "weights: q8_0", with: "weights: q8_0, precision: bf16"),
                    field: "model.precision", mentioning: ["bf16", "exact or fast"])
    }

    @Test func precisionDefaultsToExact() throws {
        #expect(try ClusterConfiguration.parse(base, file: "c.yaml").precision == "exact")
        let fast = base.replacingOccurrences(of: "weights: q8_0", with: "weights: q8_0, precision: fast")
        #expect(try ClusterConfiguration.parse(fast, file: "c.yaml").precision == "fast")
    }

    @Test func planRefusesImpossiblePlacements() throws {
        let model = try InternVLConfiguration(directory: Fixtures.tinyModel)
        let store = try CheckpointStore(directory: Fixtures.tinyModel)
        func plan(_ yaml: String) throws -> ClusterPlan {
            try ClusterPlan(configuration: ClusterConfiguration.parse(yaml, file: "c.yaml"), model: model, store: store, file: "c.yaml")
        }
        #expect(throws: ClusterConfigurationError.self) {
            try plan(base.replacingOccurrences(of: "layers: [1, 2]", with: "layers: [1, 3]"))
        }
        // 1 MiB over one layer holds 2048 tokens: less than one maximal request (8192 + 1024), so the coordinator
        // refuses long requests at admission, but enough for short ones; 4096 new tokens cannot fit any request.
        let small = try plan(base.replacingOccurrences(of: "layers: [0, 1], kv_cache_mb: 64", with: "layers: [0, 1], kv_cache_mb: 1"))
        #expect(small.placements[1].kvTokenCapacity == 2048)
        #expect(small.kvBytesPerPositionPerLayer == 512)
        #expect { try plan(base.replacingOccurrences(of: "layers: [0, 1], kv_cache_mb: 64", with: "layers: [0, 1], kv_cache_mb: 1")
                           + "\nlimits: { max_new_tokens: 4096 }") } throws: {
            "\($0)".contains("workers[1].kv_cache_mb") && "\($0)".contains("2048 tokens") && "\($0)".contains("4097")
        }
        #expect { try plan(base.replacingOccurrences(of: "{ name: vit, role: vision }", with: "{ name: vit, role: vision, memory_mb: 0 }")) } throws: {
            "\($0)".contains("workers[0].memory_mb")
        }
        let three = base.replacingOccurrences(of: ", layers: [0, 1]", with: "").replacingOccurrences(of: ", layers: [1, 2]", with: "")
            + "\n  - { name: c, role: llm, kv_cache_mb: 64 }"
        #expect { try plan(three) } throws: { "\($0)".contains("3 llm stages for a model of 2 layers") }
        let omitted = try plan(base.replacingOccurrences(of: ", layers: [0, 1]", with: "").replacingOccurrences(of: ", layers: [1, 2]", with: ""))
        #expect(omitted.placements.map(\.layers) == [0..<0, 0..<1, 1..<2])
    }

    /// The coordinator's KV budgets per stage: kv_cache_mb, and 512 bytes per position per layer of the tiny model;
    /// derived from the plan or from the file alone, they agree.
    @Test func stageKVBudgetsFollowTheLayerRanges() throws {
        let model = try InternVLConfiguration(directory: Fixtures.tinyModel)
        let yaml = base.replacingOccurrences(of: ", layers: [0, 1], kv_cache_mb: 64", with: ", kv_cache_mb: 3")
            .replacingOccurrences(of: ", layers: [1, 2], kv_cache_mb: 64", with: ", kv_cache_mb: 5")
        let configuration = try ClusterConfiguration.parse(yaml, file: "c.yaml")
        let plan = try ClusterPlan(configuration: configuration, model: model, store: CheckpointStore(directory: Fixtures.tinyModel),
                                   file: "c.yaml")
        let expected = [StageKVBudget(worker: "a", budgetBytes: 3 << 20, bytesPerPosition: 512),
                        StageKVBudget(worker: "b", budgetBytes: 5 << 20, bytesPerPosition: 512)]
        #expect(StageKVBudget.stages(of: plan) == expected)
        #expect(StageKVBudget.stages(of: configuration, model: model.llm) == expected)
        let one = try ClusterConfiguration.parse(base.replacingOccurrences(of: "layers: [0, 1]", with: "layers: [0, 2]")
            .replacingOccurrences(of: "\n  - { name: b, role: llm, layers: [1, 2], kv_cache_mb: 64 }", with: ""), file: "c.yaml")
        #expect(StageKVBudget.stages(of: one, model: model.llm) == [StageKVBudget(worker: "a", budgetBytes: 64 << 20, bytesPerPosition: 1024)])
    }

    @Test func layersSplitBySpeed() {
        #expect(ClusterPlan.split(layerCount: 32, speeds: [1, 1]) == [0..<16, 16..<32])
        #expect(ClusterPlan.split(layerCount: 32, speeds: [1, 3]) == [0..<8, 8..<32])
        #expect(ClusterPlan.split(layerCount: 32, speeds: [1, 1, 1]) == [0..<11, 11..<21, 21..<32])
        #expect(ClusterPlan.split(layerCount: 3, speeds: [100, 1, 1]) == [0..<1, 1..<2, 2..<3])
    }
}
