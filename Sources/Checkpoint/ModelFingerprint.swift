import Foundation

/// A digest that identifies a model: SHA-256 over `config.json` and every safetensors header (names, dtypes, shapes,
/// offsets) with its file size. Reading headers only keeps it instant for a 16 GB checkpoint; two checkpoints that
/// differ only in weight values with identical layout share a fingerprint (documented limitation).
public enum ModelFingerprint {
    /// The hex fingerprint of the model in `directory`.
    public static func compute(directory: URL) throws -> String {
        var hash = SHA256()
        let configURL = directory.appendingPathComponent("config.json")
        guard let config = FileManager.default.contents(atPath: configURL.path) else {
            throw CheckpointError(file: configURL.path, "cannot read: no such file or not readable")
        }
        hash.update(config)
        let store = try CheckpointStore(directory: directory)
        for name in store.tensors.keys.sorted() {
            let info = store.tensors[name]!
            hash.update(Array("\(name)|\(info.dtypeName)|\(info.shape)|\(info.byteRange)\n".utf8))
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
