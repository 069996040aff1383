/// The model card's `load_image(path, input_size=448, max_num=12)` in one call: decode (PIL
/// `convert("RGB")`), dynamic tiling with thumbnail, then ToTensor + Normalize.
public struct ImageLoader: Sendable {
    /// Decoding limits (`maxPixels`).
    public var decoder: ImageDecoder
    /// Tile grid parameters (`maxTiles`, tile size, thumbnail).
    public var tiling: DynamicTiling

    /// A loader with the given decoder and tiling (defaults: 40 M pixels, up to 12 tiles of 448 px, thumbnail on).
    public init(decoder: ImageDecoder = ImageDecoder(), tiling: DynamicTiling = .modelCard) {
        self.decoder = decoder
        self.tiling = tiling
    }

    /// `pixel_values` `[T, 3, S, S]` and the chosen grid for the image file at `path`.
    public func load(path: String) throws -> (grid: TileGrid, pixelValues: PixelValues) {
        try preprocess(decoder.decode(path: path))
    }

    /// `pixel_values` `[T, 3, S, S]` and the chosen grid for an in-memory file; `name` is used in errors.
    public func load(bytes: [UInt8], name: String) throws -> (grid: TileGrid, pixelValues: PixelValues) {
        try preprocess(decoder.decode(bytes: bytes, name: name))
    }

    /// Tiles and normalises an already decoded image.
    public func preprocess(_ image: RGBImage) -> (grid: TileGrid, pixelValues: PixelValues) {
        let (grid, tiles) = tiling.tiles(of: image)
        return (grid, PixelNormalization.pixelValues(tiles))
    }
}
