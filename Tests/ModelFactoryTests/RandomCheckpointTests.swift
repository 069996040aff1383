import Checkpoint
import Foundation
import ModelFactory
import Testing
import TestSupport

@Suite struct RandomCheckpointTests {
    @Test func tinyPresetHasExactlyTheFixtureLayout() throws {
        let directory = try Fixtures.temporaryDirectory().appendingPathComponent("tiny")
        try RandomCheckpoint(preset: .tiny).write(to: directory)
        let generated = try CheckpointStore(directory: directory)
        let fixture = try CheckpointStore(directory: Fixtures.tinyModel)
        #expect(Set(generated.tensors.keys) == Set(fixture.tensors.keys))
        for (name, info) in fixture.tensors {
            #expect(generated.tensors[name]?.shape == info.shape, "\(name)")
            #expect(generated.tensors[name]?.dtypeName == "BF16")
        }
        let config = try InternVLConfiguration(directory: directory)
        let fixtureConfig = try InternVLConfiguration(directory: Fixtures.tinyModel)
        #expect(config == fixtureConfig)
        for file in ["tokenizer.model", "tokenizer_config.json", "added_tokens.json", "special_tokens_map.json", "generation_config.json"] {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), "\(file)")
        }
    }

    @Test func sameSeedSameWeightsOtherSeedOtherWeights() throws {
        let root = try Fixtures.temporaryDirectory()
        for (name, seed) in [("a", UInt64(7)), ("b", 7), ("c", 8)] {
            try RandomCheckpoint(preset: .tiny, seed: seed).write(to: root.appendingPathComponent(name))
        }
        func bytes(_ name: String) throws -> Data { try Data(contentsOf: root.appendingPathComponent("\(name)/model.safetensors")) }
        #expect(try bytes("a") == bytes("b"))
        #expect(try bytes("a") != bytes("c"))
        let values = try CheckpointStore(directory: root.appendingPathComponent("a"))
            .tensor("language_model.model.layers.0.attention.wqkv.weight").floats()
        let mean = values.reduce(0, +) / Float(values.count)
        let bound = 0.02 * Float(3).squareRoot()
        #expect(values.allSatisfy { abs($0) <= bound * 1.01 } && abs(mean) < 0.002)
        #expect(Set(values).count > 1000)
    }

    @Test func largeCheckpointsAreShardedWithAnIndex() throws {
        var generator = RandomCheckpoint(preset: .tiny, maxPositions: 64)
        generator.shardBytes = 400_000
        let directory = try Fixtures.temporaryDirectory().appendingPathComponent("sharded")
        try generator.write(to: directory)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.contains(CheckpointStore.indexFileName))
        #expect(files.filter { $0.hasPrefix("model-0") }.count >= 4)
        let store = try CheckpointStore(directory: directory)
        #expect(store.tensors.count == (try CheckpointStore(directory: Fixtures.tinyModel)).tensors.count)
        #expect(try InternVLConfiguration(directory: directory).llm.maxPositionEmbeddings == 64)
    }

    @Test func presetsCountTheRealParameters() {
        // InternVL2-8B: vision 304,012,288 + mlp1 33,570,816 + LLM 7,737,782,272 (MODEL.md section 3).
        let generator = RandomCheckpoint(preset: .internVL2_8B)
        #expect(generator.weightBytes == 8_075_365_376 * 2)
    }
}
