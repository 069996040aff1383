import Checkpoint
import Foundation
import Testing
import TestSupport

@Suite struct CheckpointStoreTests {
    /// Writes a two-shard checkpoint of three small tensors and returns its directory.
    func writeShardedCheckpoint(index: [String: String]? = nil) throws -> URL {
        let directory = try Fixtures.temporaryDirectory()
        try SafetensorsWriter.write([
            .init(name: "a", dtype: .f32, shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]),
            .init(name: "b", dtype: .bf16, shape: [4], floats: [1, -1, 0.5, 8]),
        ], to: directory.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafetensorsWriter.write([
            .init(name: "c", dtype: .f16, shape: [1], floats: [0.25]),
        ], to: directory.appendingPathComponent("model-00002-of-00002.safetensors"))
        let weightMap = index ?? ["a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                                  "c": "model-00002-of-00002.safetensors"]
        let json = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 22], "weight_map": weightMap])
        try json.write(to: directory.appendingPathComponent(CheckpointStore.indexFileName))
        return directory
    }

    @Test func readsShardsThroughTheIndex() throws {
        let store = try CheckpointStore(directory: writeShardedCheckpoint())
        #expect(store.tensors.count == 3)
        #expect(try store.tensor("a", shape: [2, 3]).floats() == [1, 2, 3, 4, 5, 6])
        #expect(try store.tensor("c").floats() == [0.25])
        #expect(store.filePath(of: "c").hasSuffix("model-00002-of-00002.safetensors"))
        #expect(store.unusedTensorNames == ["b"])
        #expect(try store.tensor("b").bf16Bits() == [0x3F80, 0xBF80, 0x3F00, 0x4100])
        #expect(store.unusedTensorNames.isEmpty)
    }

    @Test func shardMissingATensorOfTheIndexIsRefused() throws {
        let directory = try writeShardedCheckpoint(index: [
            "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
            "c": "model-00001-of-00002.safetensors",
        ])
        #expect { try CheckpointStore(directory: directory) } throws: { error in
            "\(error)".contains("'c'") && "\(error)".contains("not in this shard")
        }
    }

    @Test func tensorMissingFromTheIndexIsRefused() throws {
        let directory = try writeShardedCheckpoint(index: [
            "a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors",
        ])
        #expect { try CheckpointStore(directory: directory) } throws: { error in
            "\(error)".contains("'b'") && "\(error)".contains("not listed")
        }
    }

    @Test func missingShardIsNamed() throws {
        let directory = try writeShardedCheckpoint()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model-00002-of-00002.safetensors"))
        #expect { try CheckpointStore(directory: directory) } throws: { error in
            "\(error)".contains("model-00002-of-00002.safetensors") && "\(error)".contains("missing shard")
        }
    }

    @Test func directoryWithoutWeightsIsNamed() throws {
        let directory = try Fixtures.temporaryDirectory()
        #expect { try CheckpointStore(directory: directory) } throws: { error in
            "\(error)".contains(directory.path) && "\(error)".contains("no weights")
        }
    }

    @Test func missingTensorAndWrongShapeAreNamed() throws {
        let store = try CheckpointStore(directory: Fixtures.tinyModel)
        #expect { try store.tensor("language_model.model.layers.9.attention.wqkv.weight") } throws: { error in
            "\(error)".contains("missing tensor 'language_model.model.layers.9.attention.wqkv.weight'")
        }
        #expect { try store.tensor("mlp1.1.weight", shape: [128, 128]) } throws: { error in
            "\(error)".contains("shape [128, 256], expected [128, 128]")
        }
    }

    @Test func fixtureWeightsAreFiniteBF16() throws {
        let store = try CheckpointStore(directory: Fixtures.tinyModel)
        let norm = try store.tensor("language_model.model.norm.weight", shape: [128]).floats()
        #expect(norm.allSatisfy { $0.isFinite })
        let embeddings = try store.tensor("language_model.model.tok_embeddings.weight", shape: [1545, 128])
        let bits = embeddings.bf16Bits()
        let values = embeddings.floats()
        #expect(bits.count == 1545 * 128)
        let converted = bits.map { ElementConversion.float(bf16: $0) }
        #expect(converted == values)
        #expect(Set(values).count > 1000, "random weights, not a constant")
    }
}
