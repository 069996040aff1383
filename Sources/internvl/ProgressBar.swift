import Foundation

/// A one-line progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise (logs, CI).
final class ProgressBar {
    private let label: String
    private let total: Int
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = Date()
    private var lastDrawn = Date.distantPast
    private var lastDecile = -1

    init(_ label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    /// Shows `done` of `total` (in bytes; shown in GiB/MiB) with rate and time left.
    func update(_ done: Int) {
        let fraction = min(1, Double(done) / Double(total))
        let now = Date()
        if isTerminal {
            guard now.timeIntervalSince(lastDrawn) > 0.1 || done >= total else { return }
            lastDrawn = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r\(label) [\(bar)] \(Int(fraction * 100))% \(details(done, now))" + (done >= total ? "\n" : ""))
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            write("\(label) \(decile * 10)% \(details(done, now))\n")
        }
    }

    private func details(_ done: Int, _ now: Date) -> String {
        let elapsed = max(now.timeIntervalSince(start), 1e-3)
        let rate = Double(done) / elapsed
        let left = rate > 0 ? Double(total - done) / rate : 0
        return String(format: "%@ / %@, %.0f MB/s, %.0f s left", CheckpointReport.bytes(done),
                      CheckpointReport.bytes(total), rate / 1e6, left)
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
