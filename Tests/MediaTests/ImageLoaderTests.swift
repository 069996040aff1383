import Foundation
import Testing
@testable import Media

/// End to end: file -> tiles -> pixel_values.
@Suite struct ImageLoaderTests {
    @Test func loadImageReproducesGoldenPixelValues() throws {
        let loader = ImageLoader(tiling: try DynamicTiling(maxTiles: 6))
        let (grid, values) = try loader.load(path: FixtureFiles.golden("images/grace_hopper.png"))
        #expect(grid == TileGrid(columns: 1, rows: 1))
        let golden = try NpyArray(path: FixtureFiles.golden("arrays/grace_hopper_mn6_pixel_values.npy"))
        #expect(values.shape == golden.shape)
        let reference = golden.floats
        let differing = reference.indices.filter { reference[$0].bitPattern != values.values[$0].bitPattern }.count
        #expect(differing == 0)
    }

    /// A large flat image: every tile stays flat (the fixed-point weights of each output pixel sum to one
    /// within rounding), with the expected tile count. Prints the elapsed time (not asserted).
    @Test func largeFlatImageStaysFlat() throws {
        let width = 4032, height = 3024
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[i * 3] = 200; pixels[i * 3 + 1] = 17; pixels[i * 3 + 2] = 99 }
        let image = RGBImage(width: width, height: height, pixels: pixels)
        let start = Date()
        let (grid, values) = ImageLoader().preprocess(image)
        let seconds = Date().timeIntervalSince(start)
        #expect(grid == TileGrid(columns: 4, rows: 3))
        #expect(values.shape == [13, 3, 448, 448])
        let plane = 448 * 448
        let expected = PixelNormalization.pixelValues([RGBImage(width: 1, height: 1, pixels: [200, 17, 99])]).values
        var wrong = 0
        for t in 0..<13 {
            for c in 0..<3 {
                let base = (t * 3 + c) * plane
                for i in 0..<plane where values.values[base + i] != expected[c] { wrong += 1 }
            }
        }
        #expect(wrong == 0)
        print("preprocess 4032x3024 -> 13 tiles: \(String(format: "%.3f", seconds)) s")
    }
}
