/// One decoded video frame as packed 8-bit RGB.
public struct RGBFrame: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `height` rows of `width` pixels, each pixel three bytes R, G, B, rows packed without padding
    /// (`pixels.count == width * height * 3`).
    public let pixels: [UInt8]

    /// Wraps packed RGB bytes; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBFrame: \(pixels.count) bytes do not hold \(width)x\(height) RGB pixels")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
