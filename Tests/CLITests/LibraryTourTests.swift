import Foundation
import Testing
import TestSupport

/// The README's library examples (Examples/LibraryTour) run end to end on the fixture model.
@Suite struct LibraryTourTests {
    @Test func everyExampleRuns() throws {
        let tour = CLIRunner.executable.deletingLastPathComponent().appendingPathComponent("library-tour")
        let process = Process()
        process.executableURL = tour
        process.arguments = [Fixtures.tinyModel.path, Fixtures.tiny.appendingPathComponent("images/grace_hopper.png").path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        for line in ["single image:", "two images:", "session: 2 rounds", "batch: [8, 8]", "streamed:"] {
            #expect(text.contains(line), "\(line) in \(text)")
        }
    }
}
