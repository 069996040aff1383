import Checkpoint
import Foundation
import Testing
import TestSupport

@Suite struct SafetensorsTests {
    let fixtureFile = Fixtures.tinyModel.appendingPathComponent("model.safetensors")

    @Test func fixtureHeaderHasTheRealLayout() throws {
        let file = try SafetensorsFile(path: fixtureFile.path)
        // InternLM2 packs q, k, v per KV group: (heads + 2 * kv_heads) * head_dim rows = (4 + 4) * 32.
        #expect(file.tensors["language_model.model.layers.0.attention.wqkv.weight"]?.shape == [256, 128])
        #expect(file.tensors["language_model.output.weight"]?.shape == [1545, 128])
        #expect(file.tensors["vision_model.embeddings.patch_embedding.weight"]?.shape == [64, 3, 14, 14])
        #expect(file.tensors["vision_model.embeddings.position_embedding"]?.shape == [1, 1025, 64])
        #expect(file.tensors["mlp1.1.weight"]?.shape == [128, 256])
        #expect(file.tensors.values.allSatisfy { $0.dtype == .bf16 })
    }

    @Test func writerRoundTripsEveryDType() throws {
        let directory = try Fixtures.temporaryDirectory()
        let url = directory.appendingPathComponent("model.safetensors")
        let values: [Float] = [0, 1, -2.5, 3.140625, 1e-3, -65504, 0.333]
        try SafetensorsWriter.write([
            .init(name: "a.f32", dtype: .f32, shape: [7], floats: values),
            .init(name: "b.bf16", dtype: .bf16, shape: [1, 7], floats: values),
            .init(name: "c.f16", dtype: .f16, shape: [7, 1], floats: values),
        ], metadata: ["format": "pt"], to: url)
        let file = try SafetensorsFile(path: url.path)
        #expect(file.metadata == ["format": "pt"])
        let store = try CheckpointStore(directory: directory)
        #expect(try store.tensor("a.f32").floats() == values)
        let bf16 = try store.tensor("b.bf16").floats()
        let f16 = try store.tensor("c.f16").floats()
        for (i, value) in values.enumerated() {
            #expect(abs(bf16[i] - value) <= abs(value) / 256, "bf16 keeps 8 significant bits")
            #expect(bf16[i] == ElementConversion.float(bf16: ElementConversion.bf16(value)))
            #expect(f16[i] == Float(Float16(value)))
        }
        #expect(store.unusedTensorNames.isEmpty)
    }

    @Test func bf16RoundsToNearestEven() {
        // 1 + 2^-8 lies exactly between two bf16 values (1 and 1 + 2^-7): ties go to the even mantissa, 1.
        #expect(ElementConversion.bf16(1 + 1.0 / 256) == 0x3F80)
        #expect(ElementConversion.bf16(1 + 3.0 / 256) == 0x3F82)
        #expect(ElementConversion.float(bf16: 0xC020) == -2.5)
        #expect(ElementConversion.float(f16: 0x3C00) == 1)
        #expect(ElementConversion.float(f16: 0x0001) == Float(Float16(bitPattern: 1)))
        #expect(ElementConversion.float(f16: 0xFC00) == -.infinity)
    }

    // MARK: Bad files: one clear error naming the file, no crash.

    func writeRaw(_ bytes: [UInt8]) throws -> URL {
        let url = try Fixtures.temporaryDirectory().appendingPathComponent("bad.safetensors")
        try Data(bytes).write(to: url)
        return url
    }

    func rawFile(header: String, dataBytes: Int) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) }
        bytes += json
        bytes += [UInt8](repeating: 7, count: dataBytes)
        return bytes
    }

    func expectError(_ bytes: [UInt8], mentioning words: [String]) throws {
        let url = try writeRaw(bytes)
        do {
            _ = try SafetensorsFile(path: url.path)
            Issue.record("expected an error for \(words)")
        } catch let error as CheckpointError {
            #expect(error.file == url.path)
            for word in words { #expect(error.description.contains(word), "\(error)") }
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func truncatedFixtureIsRefused() throws {
        let bytes = [UInt8](try Data(contentsOf: fixtureFile))
        try expectError(Array(bytes.prefix(5)), mentioning: ["truncated", "8-byte"])
        try expectError(Array(bytes.prefix(1000)), mentioning: ["truncated", "header"])
        try expectError(Array(bytes.prefix(bytes.count - 10)), mentioning: ["past the end"])
    }

    @Test func malformedHeadersAreRefused() throws {
        try expectError(rawFile(header: "{not json", dataBytes: 0), mentioning: ["not valid JSON"])
        try expectError(rawFile(header: "[1, 2]", dataBytes: 0), mentioning: ["not a JSON object"])
        try expectError(rawFile(header: #"{"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 8]}}"#, dataBytes: 8),
                        mentioning: ["'w'", "8 bytes stored", "needs 4"])
        try expectError(rawFile(header: #"{"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 4]}}"#, dataBytes: 4),
                        mentioning: ["'w'", "unknown dtype"])
        try expectError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, dataBytes: 4),
                        mentioning: ["'w'", "invalid dimension"])
        try expectError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 4]}}"#, dataBytes: 16),
                        mentioning: ["not ordered"])
        try expectError(rawFile(header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#, dataBytes: 12),
                        mentioning: ["'a'", "'b'", "overlap"])
        try expectError(rawFile(header: #"{"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}"#, dataBytes: 16),
                        mentioning: ["past the end", "truncated"])
        var huge = rawFile(header: "{}", dataBytes: 0)
        huge[5] = 0x10 // header length 2^44
        try expectError(huge, mentioning: ["exceeds"])
    }

    @Test func emptyAndMissingFilesAreRefused() throws {
        try expectError([], mentioning: ["truncated"])
        #expect(throws: CheckpointError.self) { try SafetensorsFile(path: "/nonexistent/model.safetensors") }
    }
}
