import Foundation

/// A `.npy` array (version 1/2/3, little-endian `<f4`, `<f8`, `|u1`, `<i8`, C order) read as Float values.
public struct NumpyArray {
    public var shape: [Int]
    public var values: [Float]

    public init(url: URL) throws {
        let data = try Data(contentsOf: url)
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, String(decoding: bytes[1...5], as: UTF8.self) == "NUMPY" else {
            throw NumpyError("\(url.path): not a .npy file")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let shapeText = field("shape") else {
            throw NumpyError("\(url.path): header without descr/shape")
        }
        guard field("fortran_order")?.hasPrefix("False") == true else {
            throw NumpyError("\(url.path): Fortran order not supported")
        }
        let shapeBody = shapeText.dropFirst().prefix { $0 != ")" }
        shape = shapeBody.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        var values = [Float](repeating: 0, count: count)
        try data.withUnsafeBytes { raw in
            if descr.hasPrefix("'<f4'") {
                for i in 0..<count { values[i] = raw.loadUnaligned(fromByteOffset: start + 4 * i, as: Float.self) }
            } else if descr.hasPrefix("'<f8'") {
                for i in 0..<count { values[i] = Float(raw.loadUnaligned(fromByteOffset: start + 8 * i, as: Double.self)) }
            } else if descr.hasPrefix("'|u1'") {
                for i in 0..<count { values[i] = Float(raw[start + i]) }
            } else if descr.hasPrefix("'<i8'") {
                for i in 0..<count { values[i] = Float(raw.loadUnaligned(fromByteOffset: start + 8 * i, as: Int64.self)) }
            } else {
                throw NumpyError("\(url.path): dtype \(descr) not supported")
            }
        }
        self.values = values
    }
}

public struct NumpyError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
