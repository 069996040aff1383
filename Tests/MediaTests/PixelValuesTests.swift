import Foundation
import Testing
@testable import Media

/// ToTensor + Normalize against the golden `pixel_values`.
@Suite struct PixelValuesTests {
    @Test func goldenPixelValuesFromGoldenTilesAreExact() throws {
        let tile = try ImageDecoder().decode(path: FixtureFiles.golden("tiles/grace_hopper_mn6_t00.png"))
        let values = PixelNormalization.pixelValues([tile])
        let golden = try NpyArray(path: FixtureFiles.golden("arrays/grace_hopper_mn6_pixel_values.npy"))
        #expect(golden.shape == values.shape)
        let reference = golden.floats
        var maxAbsolute: Float = 0
        var differing = 0
        for i in reference.indices where reference[i].bitPattern != values.values[i].bitPattern {
            differing += 1
            maxAbsolute = max(maxAbsolute, abs(reference[i] - values.values[i]))
        }
        print("pixel_values: \(differing) of \(reference.count) differ, max abs \(maxAbsolute)")
        #expect(differing == 0, "max abs diff \(maxAbsolute)")
    }

    /// Float64 sums of every tile's pixel values, for all manifest records (covers all channels and tiles).
    @Test func perTileSumsMatchManifest() throws {
        struct Sums: Decodable { let pixel_values_sum_per_tile: [Double] }
        struct Root: Decodable { let preprocess: [Sums] }
        let data = try FixtureFiles.manifestData()
        let sums = try JSONDecoder().decode(Root.self, from: data).preprocess
        for (entry, expected) in zip(FixtureFiles.manifest.preprocess, sums) {
            let info = try #require(FixtureFiles.manifest.images[entry.image])
            let image = try ImageDecoder().decode(path: FixtureFiles.golden(info.file))
            let tiles = try DynamicTiling(maxTiles: entry.max_num).tiles(of: image).tiles
            let values = PixelNormalization.pixelValues(tiles)
            let plane = 3 * 448 * 448
            for t in 0..<tiles.count {
                let sum = values.values[(t * plane)..<((t + 1) * plane)].reduce(0.0) { $0 + Double($1) }
                #expect(abs(sum - expected.pixel_values_sum_per_tile[t]) < 1e-3, "\(entry.image) mn\(entry.max_num) tile \(t)")
            }
        }
    }

    @Test func constantsAreFloat32OfTorchvisionValues() {
        #expect(PixelNormalization.mean == [Float(0.485), Float(0.456), Float(0.406)])
        let white = RGBImage(width: 1, height: 1, pixels: [255, 0, 128])
        let v = PixelNormalization.pixelValues([white]).values
        #expect(v[0] == (Float(1) - Float(0.485)) / Float(0.229))
        #expect(v[1] == (Float(0) - Float(0.456)) / Float(0.224))
        #expect(v[2] == (Float(128) / Float(255) - Float(0.406)) / Float(0.225))
    }
}
