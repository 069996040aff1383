import Foundation

/// A NumPy `.npy` file (format 1.x/2.x, C order, little-endian `<f4` or `|u1`), read for the tests.
struct NpyArray {
    let descr: String
    let shape: [Int]
    let payload: [UInt8]

    enum ReadError: Error, CustomStringConvertible {
        case malformed(String, String)
        var description: String {
            switch self { case let .malformed(path, why): return "\(path): not a readable .npy file (\(why))" }
        }
    }

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw ReadError.malformed(path, "missing \\x93NUMPY magic")
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
        guard !header.contains("'fortran_order': True") else { throw ReadError.malformed(path, "Fortran order") }
        guard let descrRange = header.range(of: "'descr': '") else { throw ReadError.malformed(path, "no descr") }
        let afterDescr = header[descrRange.upperBound...]
        descr = String(afterDescr.prefix { $0 != "'" })
        guard let shapeStart = header.range(of: "'shape': ("),
              let shapeEnd = header[shapeStart.upperBound...].firstIndex(of: ")") else {
            throw ReadError.malformed(path, "no shape")
        }
        shape = header[shapeStart.upperBound..<shapeEnd].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        payload = Array(bytes[(headerStart + headerLength)...])
        let itemSize = descr.hasSuffix("f4") ? 4 : 1
        guard payload.count == shape.reduce(1, *) * itemSize else {
            throw ReadError.malformed(path, "payload \(payload.count) bytes for shape \(shape) \(descr)")
        }
    }

    /// The values of a `<f4` array.
    var floats: [Float] {
        precondition(descr == "<f4", "array is \(descr), not <f4")
        return stride(from: 0, to: payload.count, by: 4).map { i in
            Float(bitPattern: UInt32(payload[i]) | UInt32(payload[i + 1]) << 8
                  | UInt32(payload[i + 2]) << 16 | UInt32(payload[i + 3]) << 24)
        }
    }

    /// The values of a `|u1` array.
    var bytes: [UInt8] {
        precondition(descr == "|u1", "array is \(descr), not |u1")
        return payload
    }
}
