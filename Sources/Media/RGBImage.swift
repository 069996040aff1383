/// An 8-bit RGB picture in memory: `height` rows of `width` pixels, each pixel three bytes R, G, B.
///
/// This is what PIL calls an `"RGB"` image: `Image.open(path).convert("RGB")` has exactly these bytes.
public struct RGBImage: Sendable, Equatable {
    /// Pixels per row.
    public let width: Int
    /// Number of rows.
    public let height: Int
    /// Interleaved samples, row-major, `width * height * 3` bytes.
    public var pixels: [UInt8]

    /// Wraps existing interleaved RGB bytes; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)x\(height) (needs \(width * height * 3))")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image of the given size.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    /// The pixel at column `x`, row `y`.
    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let offset = (y * width + x) * 3
        return (pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }

    /// Copies the rectangle with top-left corner (`x`, `y`) and the given size, like PIL's
    /// `crop((x, y, x + width, y + height))` for a box that lies inside the image.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && cropWidth >= 0 && cropHeight >= 0
                     && x + cropWidth <= width && y + cropHeight <= height,
                     "RGBImage.cropped: box (\(x), \(y), \(cropWidth)x\(cropHeight)) outside \(width)x\(height)")
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        let rowBytes = cropWidth * 3
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for row in 0..<cropHeight {
                    let from = ((y + row) * width + x) * 3
                    let to = row * rowBytes
                    for i in 0..<rowBytes { destination[to + i] = source[from + i] }
                }
            }
        }
        return RGBImage(width: cropWidth, height: cropHeight, pixels: out)
    }
}
