import Foundation
import Testing
import TestSupport

@Suite struct ClusterCLITests {
    let clusterFile = Fixtures.packageRoot.appendingPathComponent("cluster.yaml").path

    @Test func checkPrintsThePlan() throws {
        let result = try CLIRunner.run(["cluster", "check", "-c", clusterFile])
        #expect(result.status == 0, "\(result.stderr)")
        for word in ["vit-a", "llm-a", "0..<1 +emb", "1..<2 +head", "512 bytes per token", "plan ok"] {
            #expect(result.stdout.contains(word), "\(word)")
        }
    }

    @Test func modelOverrideAndBadFilesExitTwo() throws {
        let missingModel = try CLIRunner.run(["cluster", "check", "-c", clusterFile, "-m", "/nonexistent-model"])
        #expect(missingModel.status == 2)
        #expect(missingModel.stderr.contains("/nonexistent-model"))

        let bad = try Fixtures.temporaryDirectory().appendingPathComponent("bad.yaml")
        let text = try String(contentsOfFile: clusterFile, encoding: .utf8).replacingOccurrences(of: "layers: [1, 2]", with: "layers: [1, 5]")
        try text.write(to: bad, atomically: true, encoding: .utf8)
        let result = try CLIRunner.run(["cluster", "check", "-c", bad.path, "-m", Fixtures.tinyModel.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("workers[2].layers") && result.stderr.contains("2 layers"), "\(result.stderr)")
    }
}
