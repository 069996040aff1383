import Foundation
import Testing
import TestSupport
import Video

/// Damaged files (bytes overwritten or cut at many places) never crash or hang the reader: each either
/// opens and decodes, or throws a `VideoError` naming the file.
@Suite struct VideoReaderDamageTests {
    enum Outcome: Equatable { case decoded, videoError }

    private func readAll(_ path: String) -> Outcome? {
        do {
            let reader = try VideoReader(path: path)
            let frames = try reader.frames(at: Array(0..<reader.frameCount))
            #expect(frames.count == reader.frameCount)
            return .decoded
        } catch let error as VideoError {
            #expect(error.path == path)
            return .videoError
        } catch {
            Issue.record("\(path): expected a VideoError, got \(error)")
            return nil
        }
    }

    @Test(arguments: [
        ("damage.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-vf", "pad=180:136", "-g", "4", "-bf", "2"]),
        ("damage.webm", ["-c:v", "libvpx-vp9", "-g", "4"]),
        ("damage.avi", ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]),
    ])
    func damagedFiles(name: String, codecArguments: [String]) throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode(name, codecArguments)
        let original = [UInt8](try Data(contentsOf: video))
        #expect(readAll(video.path) == .decoded)
        var generator = SeededGenerator(seed: UInt64(original.count))
        var outcomes: [Outcome?] = []
        for round in 0..<12 {
            var bytes = original
            if round % 3 == 2 {
                bytes.removeLast(Int(generator.next() % UInt64(bytes.count - 1)) + 1)  // cut short
            } else {
                let start = Int(generator.next() % UInt64(bytes.count))  // overwrite a run of bytes
                for i in start..<min(bytes.count, start + 64) { bytes[i] = UInt8(truncatingIfNeeded: generator.next()) }
            }
            let damaged = video.deletingLastPathComponent().appendingPathComponent("damaged-\(round)-\(name)")
            try Data(bytes).write(to: damaged)
            outcomes.append(readAll(damaged.path))
        }
        #expect(!outcomes.contains(nil))
    }
}
