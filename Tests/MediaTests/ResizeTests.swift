import Testing
@testable import Media

/// `PillowBicubicResize` against Pillow 13.0.0 on sizes around the pass-order rule (exact ties included).
@Suite struct ResizeTests {
    static let sizes: [(Int, Int)] = [(30, 15), (30, 14), (20, 5), (80, 10), (10, 80), (100, 100), (36, 28), (37, 12), (12, 29), (5, 3)]

    @Test(arguments: sizes.indices)
    func matchesPillow(index: Int) throws {
        let (width, height) = Self.sizes[index]
        let source = try ImageDecoder().decode(path: FixtureFiles.resource("resize_source.png"))
        #expect(source.width == 37 && source.height == 29)
        let expected = try NpyArray(path: FixtureFiles.resource("resize_source_\(width)x\(height).expected.npy"))
        let resized = PillowBicubicResize.resize(source, width: width, height: height)
        #expect(expected.shape == [height, width, 3])
        let difference = ByteDifference(resized.pixels, expected.bytes)
        #expect(difference.differing == 0, "\(width)x\(height): \(difference)")
    }

    /// Source windows clamp at the borders: a 1x1 or 3x1 flat image stays flat at any size and grid.
    @Test func tinyFlatImagesStayFlat() throws {
        for (width, height) in [(1, 1), (3, 1), (1, 5)] {
            let pixels: [UInt8] = (0..<(width * height * 3)).map { [250, 3, 77][$0 % 3] }
            let image = RGBImage(width: width, height: height, pixels: pixels)
            let (grid, tiles) = try DynamicTiling(maxTiles: 40).tiles(of: image)
            #expect(tiles.count == (grid.tileCount == 1 ? 1 : grid.tileCount + 1))
            for tile in tiles {
                #expect(tile.width == 448 && tile.height == 448)
                #expect(tile.pixels.enumerated().allSatisfy { $0.element == ([250, 3, 77] as [UInt8])[$0.offset % 3] }, "\(width)x\(height)")
            }
        }
    }

    @Test func sameSizeIsACopy() {
        let image = RGBImage(width: 3, height: 2, pixels: Array(0..<18))
        #expect(PillowBicubicResize.resize(image, width: 3, height: 2) == image)
    }

    @Test func kernelValues() {
        #expect(PillowBicubicResize.bicubicKernel(0) == 1)
        #expect(PillowBicubicResize.bicubicKernel(1) == 0)
        #expect(PillowBicubicResize.bicubicKernel(-2) == 0)
        #expect(PillowBicubicResize.bicubicKernel(0.5) == 0.5625)
        #expect(PillowBicubicResize.bicubicKernel(1.5) == -0.0625)
    }
}
