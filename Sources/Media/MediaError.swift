/// Why an image could not be read or preprocessed. Each description is one line naming the file
/// (or parameter) and the problem.
public enum MediaError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The file has zero bytes.
    case emptyFile(file: String)
    /// The file is larger than the decoder's `maxFileBytes`; it was not read.
    case fileTooLarge(file: String, bytes: Int, limit: Int)
    /// The first bytes match no supported format (PNG, JPEG).
    case unknownFormat(file: String, leadingBytes: String)
    /// The header declares more pixels than allowed (decompression-bomb guard); nothing was allocated.
    case tooManyPixels(file: String, width: Int, height: Int, limit: Int)
    /// The header declares a zero or otherwise impossible size.
    case invalidDimensions(file: String, width: Int, height: Int)
    /// The data ends before the image is complete.
    case truncated(file: String, format: String, detail: String)
    /// The codec rejected the data.
    case corrupt(file: String, format: String, detail: String)
    /// A preprocessing parameter is outside its allowed range.
    case invalidParameter(name: String, value: Int, allowed: ClosedRange<Int>)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read file (\(reason))"
        case let .emptyFile(file):
            return "\(file): file is empty (0 bytes)"
        case let .fileTooLarge(file, bytes, limit):
            return "\(file): file is \(bytes) bytes, over the limit maxFileBytes = \(limit)"
        case let .unknownFormat(file, leadingBytes):
            return "\(file): unknown image format (first bytes \(leadingBytes); supported: PNG, JPEG)"
        case let .tooManyPixels(file, width, height, limit):
            return "\(file): image is \(width)x\(height) = \(width * height) pixels, over the limit maxPixels = \(limit)"
        case let .invalidDimensions(file, width, height):
            return "\(file): invalid image size \(width)x\(height) in header"
        case let .truncated(file, format, detail):
            return "\(file): truncated \(format) data (\(detail))"
        case let .corrupt(file, format, detail):
            return "\(file): corrupt \(format) data (\(detail))"
        case let .invalidParameter(name, value, allowed):
            return "\(name) = \(value) is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        }
    }
}
