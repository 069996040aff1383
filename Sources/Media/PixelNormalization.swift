/// A batch of normalised tiles, `[tiles, 3, size, size]` float32 in CHW order: the model's `pixel_values`.
public struct PixelValues: Sendable, Equatable {
    /// Number of tiles (T).
    public let tileCount: Int
    /// Tile side (448 for InternVL2).
    public let size: Int
    /// `tileCount * 3 * size * size` values, tile-major, then channel, row, column.
    public var values: [Float]

    /// The shape `[T, 3, size, size]`.
    public var shape: [Int] { [tileCount, 3, size, size] }
}

/// torchvision's `ToTensor()` + `Normalize(mean, std)` as the InternVL2 model card uses them, in float32:
/// `(Float(u8) / 255 - mean[c]) / std[c]`, with mean and std rounded to float32 first.
public enum PixelNormalization {
    /// ImageNet channel means (R, G, B), as float32.
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet channel standard deviations (R, G, B), as float32.
    public static let std: [Float] = [0.229, 0.224, 0.225]

    /// Normalises square tiles of equal size into `pixel_values`. All tiles must be `size` x `size`.
    public static func pixelValues(_ tiles: [RGBImage]) -> PixelValues {
        let size = tiles.first?.width ?? 0
        let plane = size * size
        var values = [Float](repeating: 0, count: tiles.count * 3 * plane)
        // The 256 possible values per channel, computed with the exact float32 operations of torchvision.
        var table = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            for value in 0..<256 {
                let scaled = Float(value) / Float(255)
                table[channel * 256 + value] = (scaled - mean[channel]) / std[channel]
            }
        }
        values.withUnsafeMutableBufferPointer { out in
            for (t, tile) in tiles.enumerated() {
                precondition(tile.width == size && tile.height == size,
                             "PixelNormalization: tile \(t) is \(tile.width)x\(tile.height), expected \(size)x\(size)")
                tile.pixels.withUnsafeBufferPointer { pixels in
                    let base = t * 3 * plane
                    for i in 0..<plane {
                        out[base + i] = table[Int(pixels[i * 3])]
                        out[base + plane + i] = table[256 + Int(pixels[i * 3 + 1])]
                        out[base + 2 * plane + i] = table[512 + Int(pixels[i * 3 + 2])]
                    }
                }
            }
        }
        return PixelValues(tileCount: tiles.count, size: size, values: values)
    }
}
