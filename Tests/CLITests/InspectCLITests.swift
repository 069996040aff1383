import Checkpoint
import Foundation
import Testing
import TestSupport

@Suite struct InspectCLITests {
    let model = Fixtures.tinyModel.path

    /// Parameter counts per part straight from the safetensors header.
    func headerCounts() throws -> [String: Int] {
        let file = try SafetensorsFile(path: Fixtures.tinyModel.appendingPathComponent("model.safetensors").path)
        var counts: [String: Int] = [:]
        for info in file.tensors.values {
            let part = info.name.hasPrefix("vision_model.") ? "vision" : info.name.hasPrefix("mlp1.") ? "projector" : "llm"
            counts[part, default: 0] += info.elementCount
            counts["total", default: 0] += info.elementCount
        }
        return counts
    }

    @Test func jsonReportCountsEveryParameter() throws {
        let result = try CLIRunner.run(["inspect", "-m", model, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let parameters = object["parameters"] as! [String: Int]
        let expected = try headerCounts()
        for part in ["vision", "projector", "llm", "total"] { #expect(parameters[part] == expected[part], "\(part)") }
        #expect(object["architecture"] as? String == "InternLM2ForCausalLM")
        // 2 layers x 2 kv heads x 32 dims x (k + v) x 4 bytes.
        #expect(object["kv_bytes_per_token"] as? Int == 2 * 2 * 32 * 2 * 4)
        let bytes = object["weight_bytes"] as! [String: Int]
        #expect(bytes["q4_0"]! < bytes["q8_0"]! && bytes["q8_0"]! < bytes["bf16"]! && bytes["bf16"]! < bytes["f32"]!)
    }

    @Test func textReportNamesTheParts() throws {
        let result = try CLIRunner.run(["inspect", "-m", model])
        #expect(result.status == 0)
        for word in ["InternViT", "InternLM2ForCausalLM", "pixel shuffle v2", "256 tokens per tile", "q4_0", "kv cache"] {
            #expect(result.stdout.contains(word), "\(word)")
        }
    }

    @Test func environmentVariableProvidesTheOptionAndTheFlagWins() throws {
        let fromEnvironment = try CLIRunner.run(["inspect"], environment: ["INTERNVL_MODEL_DIR": model, "INTERNVL_JSON": "1"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stdout.hasPrefix("{"))
        let flagWins = try CLIRunner.run(["inspect", "-m", model], environment: ["INTERNVL_MODEL_DIR": "/nonexistent"])
        #expect(flagWins.status == 0, "\(flagWins.stderr)")
        let badEnvironment = try CLIRunner.run(["inspect"], environment: ["INTERNVL_MODEL_DIR": "/nonexistent"])
        #expect(badEnvironment.status == 2)
        #expect(badEnvironment.stderr.contains("/nonexistent"))
    }

    /// A copy of the fixture model directory that a test may break.
    func copyOfModel() throws -> URL {
        let directory = try Fixtures.temporaryDirectory()
        let copy = directory.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.tinyModel, to: copy)
        return copy
    }

    func expectInputError(_ directory: URL, mentioning words: [String]) throws {
        let result = try CLIRunner.run(["inspect", "-m", directory.path])
        #expect(result.status == 2, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(result.stderr)")
        for word in words { #expect(result.stderr.contains(word), "\(word) in \(result.stderr)") }
    }

    @Test func truncatedWeightsExitTwoNamingTheFile() throws {
        let copy = try copyOfModel()
        let weights = copy.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: weights)
        try data.prefix(data.count / 2).write(to: weights)
        try expectInputError(copy, mentioning: ["model.safetensors", "truncated"])
    }

    @Test func missingConfigKeyExitsTwoNamingTheKey() throws {
        let copy = try copyOfModel()
        let url = copy.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var llm = object["llm_config"] as! [String: Any]
        llm["num_attention_heads"] = nil
        object["llm_config"] = llm
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        try expectInputError(copy, mentioning: ["config.json", "llm_config.num_attention_heads"])
    }

    @Test func unsupportedArchitectureExitsTwoNamingIt() throws {
        let copy = try copyOfModel()
        let url = copy.appendingPathComponent("config.json")
        let text = try String(contentsOf: url, encoding: .utf8)
            .replacingOccurrences(of: "\"InternLM2ForCausalLM\"", with: "\"Qwen2ForCausalLM\"")
        try text.write(to: url, atomically: true, encoding: .utf8)
        try expectInputError(copy, mentioning: ["Qwen2ForCausalLM", "not implemented"])
    }

    @Test func headerPointingPastTheEndExitsTwo() throws {
        let copy = try copyOfModel()
        let weights = copy.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: weights))
        bytes[3] = 0x7F // header length now far beyond the file
        try Data(bytes).write(to: weights)
        try expectInputError(copy, mentioning: ["model.safetensors", "header"])
    }
}

@Suite struct VersionCLITests {
    @Test func verboseVersionNamesTheNativeLibraries() throws {
        let result = try CLIRunner.run(["version", "--verbose"])
        #expect(result.status == 0)
        for word in ["zeromq 4.", "openblas core", "libpng 1.", "kernels", "turbojpeg available"] {
            #expect(result.stdout.contains(word), "\(word)")
        }
        let capped = try CLIRunner.run(["version", "-v"], environment: ["INTERNVL_CPU": "scalar"])
        #expect(capped.stdout.contains("kernels scalar"))
    }

    @Test func helpTeachesTheEnvironmentVariables() throws {
        let result = try CLIRunner.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("INTERNVL_MODEL_DIR"))
        let usage = try CLIRunner.run(["inspect", "--no-such-flag", "-m", "x"])
        #expect(usage.status == 2)
    }
}
