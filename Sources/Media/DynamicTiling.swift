/// A tiling of an image into `columns` x `rows` square tiles.
public struct TileGrid: Sendable, Equatable, CustomStringConvertible {
    /// Tiles per row (the reference's `ratio[0]`, width direction).
    public let columns: Int
    /// Tile rows (the reference's `ratio[1]`, height direction).
    public let rows: Int

    /// A grid of `columns` x `rows` tiles.
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }

    /// `columns * rows`.
    public var tileCount: Int { columns * rows }

    public var description: String { "\(columns)x\(rows)" }
}

/// InternVL2's `dynamic_preprocess` (model-card `load_image`), exactly: choose a grid whose aspect ratio is
/// closest to the image's, resize the image to the grid with Pillow bicubic, cut the tiles row-major, and
/// append a thumbnail (the whole image resized to one tile) when there is more than one tile.
public struct DynamicTiling: Sendable {
    /// Allowed values of `minTiles` and `maxTiles`.
    public static let tileCountRange = 1...40

    /// The reference's `min_num`.
    public let minTiles: Int
    /// The reference's `max_num` (12 in the model card, 1 for video frames).
    public let maxTiles: Int
    /// Tile side in pixels (448 for InternVL2).
    public let imageSize: Int
    /// Whether to append the thumbnail when the grid has more than one tile.
    public let useThumbnail: Bool

    /// Validates the parameters: `1 <= minTiles <= maxTiles <= 40`, `imageSize >= 1`.
    public init(minTiles: Int = 1, maxTiles: Int = 12, imageSize: Int = 448, useThumbnail: Bool = true) throws {
        guard Self.tileCountRange.contains(maxTiles) else {
            throw MediaError.invalidParameter(name: "maxTiles", value: maxTiles, allowed: Self.tileCountRange)
        }
        guard (1...maxTiles).contains(minTiles) else {
            throw MediaError.invalidParameter(name: "minTiles", value: minTiles, allowed: 1...maxTiles)
        }
        guard (1...65_536).contains(imageSize) else {
            throw MediaError.invalidParameter(name: "imageSize", value: imageSize, allowed: 1...65_536)
        }
        self.init(checkedMinTiles: minTiles, maxTiles: maxTiles, imageSize: imageSize, useThumbnail: useThumbnail)
    }

    private init(checkedMinTiles minTiles: Int, maxTiles: Int, imageSize: Int, useThumbnail: Bool) {
        self.minTiles = minTiles
        self.maxTiles = maxTiles
        self.imageSize = imageSize
        self.useThumbnail = useThumbnail
    }

    /// The model card's `load_image` settings: 1 to 12 tiles of 448 px, thumbnail appended.
    public static let modelCard = DynamicTiling(checkedMinTiles: 1, maxTiles: 12, imageSize: 448, useThumbnail: true)

    /// The candidate grids in the order the reference walks them: the Python set of (i, j) with
    /// `minTiles <= i*j <= maxTiles`, stably sorted by i*j. For `minTiles == 1` this is the table copied from
    /// the reference fixtures; otherwise the CPython set order is rebuilt by `PythonSetOrder`.
    public var candidateGrids: [TileGrid] {
        let pairs: [(Int, Int)]
        if minTiles == 1 {
            pairs = referenceTileGridOrder[maxTiles - 1]
        } else {
            pairs = Self.pythonCandidateOrder(minTiles: minTiles, maxTiles: maxTiles)
        }
        return pairs.map { TileGrid(columns: $0.0, rows: $0.1) }
    }

    /// Rebuilds `sorted(set(...), key=i*j)` by emulating CPython's set.
    static func pythonCandidateOrder(minTiles: Int, maxTiles: Int) -> [(Int, Int)] {
        var set = PythonSetOrder()
        for n in minTiles...maxTiles {
            for i in 1...n {
                for j in 1...n where i * j <= maxTiles && i * j >= minTiles {
                    set.insert((i, j))
                }
            }
        }
        // Swift's sort is not stable; sort indices to keep set order for equal products.
        let order = set.iterationOrder
        return order.enumerated()
            .sorted { lhs, rhs in
                let a = lhs.element.0 * lhs.element.1, b = rhs.element.0 * rhs.element.1
                return a != b ? a < b : lhs.offset < rhs.offset
            }
            .map(\.element)
    }

    /// The reference's `find_closest_aspect_ratio`: smallest |aspect - cols/rows| in candidate order; on an exact
    /// float tie the later candidate wins only if `width*height > 0.5 * imageSize^2 * cols*rows`.
    public func closestGrid(width: Int, height: Int) -> TileGrid {
        let aspect = Double(width) / Double(height)
        let area = Double(width * height)
        var best = TileGrid(columns: 1, rows: 1)
        var bestDifference = Double.infinity
        let tileArea = 0.5 * Double(imageSize) * Double(imageSize)
        for grid in candidateGrids {
            let difference = abs(aspect - Double(grid.columns) / Double(grid.rows))
            if difference < bestDifference {
                bestDifference = difference
                best = grid
            } else if difference == bestDifference {
                if area > tileArea * Double(grid.columns) * Double(grid.rows) {
                    best = grid
                }
            }
        }
        return best
    }

    /// The tiles for `image`: `grid.tileCount` tiles of `imageSize` x `imageSize`, row-major, then the thumbnail
    /// when `useThumbnail` and the grid has more than one tile.
    public func tiles(of image: RGBImage) -> (grid: TileGrid, tiles: [RGBImage]) {
        let grid = closestGrid(width: image.width, height: image.height)
        let resized = PillowBicubicResize.resize(image, width: imageSize * grid.columns, height: imageSize * grid.rows)
        var tiles: [RGBImage] = []
        tiles.reserveCapacity(grid.tileCount + 1)
        for index in 0..<grid.tileCount {
            let column = index % grid.columns
            let row = index / grid.columns
            tiles.append(resized.cropped(x: column * imageSize, y: row * imageSize, width: imageSize, height: imageSize))
        }
        if useThumbnail && tiles.count != 1 {
            tiles.append(PillowBicubicResize.resize(image, width: imageSize, height: imageSize))
        }
        return (grid, tiles)
    }
}
