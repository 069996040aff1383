import Foundation

/// Paths of the golden fixtures copied into `Tests/Fixtures` from the reference implementation.
public enum Fixtures {
    /// `Tests/` of this checkout.
    public static let testsDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The package root.
    public static let packageRoot: URL = testsDirectory.deletingLastPathComponent()

    /// `Tests/Fixtures/internvl2-tiny`.
    public static let tiny: URL = testsDirectory.appendingPathComponent("Fixtures/internvl2-tiny")

    /// The tiny model directory (config.json, model.safetensors, tokenizer files).
    public static let tinyModel: URL = tiny.appendingPathComponent("model")

    /// The decoded `manifest.json` of the tiny set. Python wrote bare `NaN` values (the float64 noise-floor entries
    /// of the batch case), which JSONSerialization rejects, so they are read as null.
    public static func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: tiny.appendingPathComponent("manifest.json"))
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: ": NaN", with: ": null")
        return try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// A new empty temporary directory (removed by the caller or left to the OS).
    public static func temporaryDirectory(_ label: String = "internvl-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
