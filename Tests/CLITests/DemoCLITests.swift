import Foundation
import Testing
import TestSupport

/// `internvl demo`, the README's main job: a tiny model it makes itself, captioned on a local cluster.
@Suite(.serialized) struct DemoCLITests {
    /// Captions keyed by file name from the demo's output ("[k/N] name (...)" then "  caption: ...").
    func captions(_ stdout: String) -> [String: String] {
        var result: [String: String] = [:]
        var current: String?
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                current = line[line.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
            } else if !line.hasPrefix("[") && line.hasSuffix(" tokens)") && !line.hasPrefix(" ") {
                current = line.split(separator: " ").first.map(String.init)
            } else if line.hasPrefix("  caption: "), let name = current {
                result[name] = String(line.dropFirst("  caption: ".count))
            }
        }
        return result
    }

    /// A directory with two example images and one file that is not an image.
    func imagesWithOneBad() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let examples = Fixtures.packageRoot.appendingPathComponent("Examples/images")
        let pictures = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".png") }.sorted()
        for name in pictures.prefix(2) {
            try FileManager.default.copyItem(at: examples.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        try Data("not a png at all".utf8).write(to: directory.appendingPathComponent("broken.png"))
        return directory
    }

    @Test func aMissingImagesFolderIsNamedAndNoModelIsWritten() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("demo-missing-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("tiny"), images = scratch.appendingPathComponent("no-images")
        let result = try CLIRunner.run(["demo", "--dir", model.path, "--images", images.path], timeout: 60)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("--images \(images.path): no such folder"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model.path))
    }

    @Test func clusterCaptionsEqualInProcessCaptionsAndABadImageFailsAlone() throws {
        let images = try imagesWithOneBad()
        let model = FileManager.default.temporaryDirectory.appendingPathComponent("demo-model-\(UUID().uuidString)/tiny")
        defer {
            try? FileManager.default.removeItem(at: images)
            try? FileManager.default.removeItem(at: model.deletingLastPathComponent())
        }
        let common = ["demo", "--dir", model.path, "--images", images.path, "-n", "8"]
        let cluster = try CLIRunner.run(common, timeout: 300)
        // The broken file fails alone: named in the output, the run exits 1, the good images are captioned.
        #expect(cluster.status == 1, "\(cluster.stderr)")
        #expect(cluster.stdout.contains("broken.png: failed"), "\(cluster.stdout)")
        #expect(cluster.stdout.contains("cluster ready"))
        #expect(FileManager.default.fileExists(atPath: model.deletingLastPathComponent().appendingPathComponent("cluster.yaml").path))

        try FileManager.default.removeItem(at: images.appendingPathComponent("broken.png"))
        let local = try CLIRunner.run(common + ["--in-process"], timeout: 300)
        #expect(local.status == 0, "\(local.stderr)")
        let clusterCaptions = captions(cluster.stdout), localCaptions = captions(local.stdout)
        #expect(clusterCaptions.count == 2, "\(cluster.stdout)")
        #expect(clusterCaptions == localCaptions, "cluster:\n\(cluster.stdout)\nin process:\n\(local.stdout)")
    }
}
