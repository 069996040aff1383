import Checkpoint
import Foundation
import Models
import Testing
import TestSupport

@Suite("random-weight checkpoint generator")
struct CheckpointGeneratorTests {
    @Test("internvl2-8b preset has the real parameter counts (MODEL.md section 3)")
    func eightBillionCounts() throws {
        let shapes = try CheckpointGenerator(preset: .internVL2_8B).tensorShapes()
        func count(_ prefix: String) -> Int {
            shapes.filter { $0.name.hasPrefix(prefix) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        }
        #expect(count("vision_model.") == 304_012_288)
        #expect(count("mlp1.") == 33_570_816)
        #expect(count("language_model.") == 7_737_782_272)
        #expect(count("") == 8_075_365_376)
        let config = try InternVLConfiguration(json: CheckpointGenerator(preset: .internVL2_8B).configurationJSON())
        #expect(config.llm.hiddenSize == 4096 && config.llm.kvHeadCount == 8 && config.llm.vocabularySize == 92553)
        let small = try InternVLConfiguration(json: CheckpointGenerator(preset: .internVL2_2B).configurationJSON())
        #expect(small.llm.hiddenSize == 2048 && small.llm.layerCount == 24 && small.vision.hiddenSize == 1024)
    }

    @Test("tiny preset: loads with every tensor used, matches the fixture's dims, activations stay O(1)")
    func tinyLoadsAndRuns() throws {
        let directory = try Fixtures.temporaryDirectory("models-generator")
        defer { try? FileManager.default.removeItem(at: directory) }
        try CheckpointGenerator(preset: .tiny, seed: 1, maxPositionEmbeddings: 64).write(to: directory)
        let model = try InternVLModel(directory: directory)
        let fixture = try CheckpointStoreLoader.configuration()
        var expectedLLM = fixture.llm
        expectedLLM.maxPositionEmbeddings = 64
        #expect(model.configuration.llm == expectedLLM)
        #expect(model.configuration.vision.hiddenSize == fixture.vision.hiddenSize)
        #expect(model.configuration.vision.layerCount == fixture.vision.layerCount)

        var generator = SplitMix64(seed: 9)
        let pixels = (0..<(3 * 448 * 448)).map { _ in Float(generator.nextUnit() * 4 - 2) }
        let vitEmbeds = try model.encodeImages(pixelValues: pixels, tiles: 1, height: 448, width: 448)
        #expect(vitEmbeds.allSatisfy { $0.isFinite })
        let meanAbs = vitEmbeds.reduce(0) { $0 + abs($1) } / Float(vitEmbeds.count)
        #expect(meanAbs > 0.05 && meanAbs < 20, "vit_embeds mean |x| \(meanAbs)")

        let ids = (0..<80).map { ($0 * 37) % 1500 + 3 }
        let logits = try model.prefill(tokenIDs: ids, cache: model.makeCache(capacity: 80))
        #expect(logits.allSatisfy { $0.isFinite })
        let spread = maxAbs(logits)
        #expect(spread > 0.1 && spread < 100, "logits max |x| \(spread)")
        let result = try model.generate(tokenIDs: ids, parameters: GenerationParameters(maxNewTokens: 3, stopTokenIDs: []))
        #expect(result.tokens.count == 3)
    }

    @Test("same seed, same bytes; other seed, other bytes; shards load to the same model")
    func deterministicAndSharded() throws {
        let root = try Fixtures.temporaryDirectory("models-generator")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        let c = root.appendingPathComponent("c"), sharded = root.appendingPathComponent("sharded")
        try CheckpointGenerator(preset: .tiny, seed: 3).write(to: a)
        try CheckpointGenerator(preset: .tiny, seed: 3).write(to: b)
        try CheckpointGenerator(preset: .tiny, seed: 4).write(to: c)
        try CheckpointGenerator(preset: .tiny, seed: 3, maxShardBytes: 400_000).write(to: sharded)
        let weights = { (url: URL) in try Data(contentsOf: url.appendingPathComponent(CheckpointStore.singleFileName)) }
        #expect(try weights(a) == weights(b))
        #expect(try weights(a) != weights(c))
        let shardFiles = try FileManager.default.contentsOfDirectory(atPath: sharded.path).filter { $0.hasPrefix("model-") }
        #expect(shardFiles.count > 1)
        #expect(FileManager.default.fileExists(atPath: sharded.appendingPathComponent(CheckpointStore.indexFileName).path))
        let ids = [1, 50, 300, 7, 9]
        let single = try InternVLModel(directory: a)
        let split = try InternVLModel(directory: sharded)
        #expect(try split.prefill(tokenIDs: ids, cache: split.makeCache(capacity: 5))
                == single.prefill(tokenIDs: ids, cache: single.makeCache(capacity: 5)))
    }
}

@Suite("unsupported configurations")
struct UnsupportedConfigurationTests {
    @Test("an InternViT-6B vision config (rms_norm, qk_normalization) is refused naming the field")
    func visionSixB() throws {
        var configuration = try CheckpointStoreLoader.configuration()
        configuration.vision.norm = .rmsNorm
        #expect(throws: ModelError.unsupported(field: "vision_config.norm_type", value: "'rms_norm' (only 'layer_norm', InternViT-300M)")) {
            _ = try InternViT(store: CheckpointStoreLoader.store(), configuration: configuration.vision)
        }
        configuration.vision.norm = .layerNorm
        configuration.vision.qkNormalization = true
        #expect(throws: ModelError.unsupported(field: "vision_config.qk_normalization", value: "true (InternViT-6B)")) {
            _ = try InternViT(store: CheckpointStoreLoader.store(), configuration: configuration.vision)
        }
    }
}

extension UnsupportedConfigurationTests {
    @Test("pixel shuffle v1 and linear RoPE scaling are refused naming the field")
    func projectorAndRope() throws {
        var configuration = try CheckpointStoreLoader.configuration()
        configuration.pixelShuffleVersion = "v1"
        #expect(throws: ModelError.unsupported(field: "ps_version", value: "'v1' (only 'v2')")) {
            _ = try Projector(store: CheckpointStoreLoader.store(), configuration: configuration)
        }
        configuration.llm.ropeScaling = .linear(factor: 2)
        #expect(throws: ModelError.unsupported(field: "llm_config.rope_scaling", value: "{type: linear, factor: 2.0}")) {
            _ = try RotaryEmbedding(configuration: configuration.llm)
        }
    }
}
