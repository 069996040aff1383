import Foundation

/// Decodes PNG and JPEG files to 8-bit RGB exactly as PIL's `Image.open(path).convert("RGB")`.
///
/// The format is sniffed from the magic bytes. The pixel count in the header is checked against
/// `maxPixels` before any pixel memory is allocated.
public struct ImageDecoder: Sendable {
    /// The default pixel limit (width * height): 40 million.
    public static let defaultMaxPixels = 40_000_000

    /// The default file size limit: 256 MiB.
    public static let defaultMaxFileBytes = 256 << 20

    /// Images with more pixels than this are refused (decompression-bomb guard).
    public var maxPixels: Int
    /// Files larger than this are refused before they are read.
    public var maxFileBytes: Int

    /// A decoder refusing images above `maxPixels` pixels and files above `maxFileBytes` bytes.
    public init(maxPixels: Int = ImageDecoder.defaultMaxPixels, maxFileBytes: Int = ImageDecoder.defaultMaxFileBytes) {
        self.maxPixels = maxPixels
        self.maxFileBytes = maxFileBytes
    }

    /// Reads and decodes the file at `path`.
    public func decode(path: String) throws -> RGBImage {
        let bytes: [UInt8]
        do {
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            if size > maxFileBytes {
                throw MediaError.fileTooLarge(file: path, bytes: size, limit: maxFileBytes)
            }
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as MediaError {
            throw error
        } catch {
            throw MediaError.unreadable(file: path, reason: Self.reason(of: error))
        }
        return try decode(bytes: bytes, name: path)
    }

    /// Decodes an in-memory file; `name` is used in error messages.
    public func decode(bytes: [UInt8], name: String) throws -> RGBImage {
        if bytes.isEmpty { throw MediaError.emptyFile(file: name) }
        if bytes.count > maxFileBytes {
            throw MediaError.fileTooLarge(file: name, bytes: bytes.count, limit: maxFileBytes)
        }
        switch ImageFormat.sniff(bytes) {
        case .png:
            return try PNGDecoder.decode(bytes, file: name, maxPixels: maxPixels)
        case .jpeg:
            return try JPEGDecoder.decode(bytes, file: name, maxPixels: maxPixels)
        case nil:
            let hex = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw MediaError.unknownFormat(file: name, leadingBytes: hex)
        }
    }

    /// Throws `tooManyPixels` / `invalidDimensions` for a header size that must not be decoded.
    static func checkSize(width: Int, height: Int, file: String, maxPixels: Int) throws {
        if width <= 0 || height <= 0 {
            throw MediaError.invalidDimensions(file: file, width: width, height: height)
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > maxPixels {
            throw MediaError.tooManyPixels(file: file, width: width, height: height, limit: maxPixels)
        }
    }

    private static func reason(of error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return nsError.localizedDescription
    }
}
