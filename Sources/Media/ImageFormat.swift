/// A container format recognised from its first bytes (never from the file extension).
public enum ImageFormat: String, Sendable, Equatable {
    /// PNG: `89 50 4E 47 0D 0A 1A 0A`.
    case png = "PNG"
    /// JPEG: `FF D8 FF`.
    case jpeg = "JPEG"

    /// The format whose magic bytes start `bytes`, or nil when none matches.
    public static func sniff<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        return nil
    }
}
