import Checkpoint
import Foundation
import Testing
@testable import Media

/// Differences between two equally sized uint8 buffers.
struct ByteDifference: CustomStringConvertible {
    var maxAbsolute = 0
    var differing = 0

    init(_ a: [UInt8], _ b: [UInt8]) {
        precondition(a.count == b.count)
        for i in a.indices where a[i] != b[i] {
            differing += 1
            maxAbsolute = max(maxAbsolute, abs(Int(a[i]) - Int(b[i])))
        }
    }

    var description: String { "max |du8| = \(maxAbsolute), \(differing) differing bytes" }
}

/// `dynamic_preprocess` against every `preprocess[]` record of the fixture manifest.
@Suite struct PreprocessGoldenTests {
    static let entries = FixtureFiles.manifest.preprocess

    @Test func manifestHasTwelvePreprocessRecords() {
        #expect(Self.entries.count == 12)
    }

    @Test(arguments: entries.indices)
    func tilesMatchReference(index: Int) throws {
        let entry = Self.entries[index]
        let label = "\(entry.image) max_num \(entry.max_num)"
        let info = try #require(FixtureFiles.manifest.images[entry.image])
        let image = try ImageDecoder().decode(path: FixtureFiles.golden(info.file))
        #expect(image.width == entry.input_width && image.height == entry.input_height, "\(label)")

        let tiling = try DynamicTiling(minTiles: entry.min_num, maxTiles: entry.max_num, imageSize: entry.image_size)
        let (grid, tiles) = tiling.tiles(of: image)
        #expect(grid == TileGrid(columns: entry.grid.cols, rows: entry.grid.rows), "\(label): grid \(grid)")
        #expect(tiles.count == entry.num_tiles, "\(label)")
        #expect(tiles.count == entry.tile_sha256.count, "\(label)")

        // Byte-exact tiles: SHA-256 of the HWC uint8 bytes, as numpy's tobytes().
        for (t, tile) in tiles.enumerated() where t < entry.tile_sha256.count {
            #expect(tile.width == entry.image_size && tile.height == entry.image_size)
            #expect(SHA256.hex(tile.pixels) == entry.tile_sha256[t], "\(label) tile \(t): SHA-256 differs")
        }

        // Fingerprint [T, 56, 56, 3] = tiles[:, 3::8, 3::8, :]; reports max |du8| if not exact.
        let fingerprint = try NpyArray(path: FixtureFiles.golden(entry.tile_fingerprint))
        let side = entry.image_size
        let sampled = (side - 3 + 7) / 8
        #expect(fingerprint.shape == [tiles.count, sampled, sampled, 3], "\(label)")
        var ours: [UInt8] = []
        for tile in tiles {
            for y in stride(from: 3, to: side, by: 8) {
                for x in stride(from: 3, to: side, by: 8) {
                    let p = tile.pixel(x: x, y: y)
                    ours += [p.r, p.g, p.b]
                }
            }
        }
        if ours.count == fingerprint.bytes.count {
            let difference = ByteDifference(ours, fingerprint.bytes)
            print("preprocess \(label): fingerprint \(difference)")
            #expect(difference.differing == 0, "\(label) fingerprint: \(difference)")
        }

        // The stored PNG tiles, decoded by our own decoder, compared pixel by pixel.
        for (t, path) in (entry.tiles_png ?? []).enumerated() where t < tiles.count {
            let golden = try ImageDecoder().decode(path: FixtureFiles.golden(path))
            let difference = ByteDifference(tiles[t].pixels, golden.pixels)
            #expect(difference.differing == 0, "\(label) \(path): \(difference)")
        }
    }

    /// Video frames go through `dynamic_preprocess(max_num=1)`: one bicubic resize to 448x448, no thumbnail.
    @Test func videoFrameTilesMatchReference() throws {
        let frameDirectory = FixtureFiles.goldenDirectory.appendingPathComponent("images/video_8_frames")
        let frames = try FileManager.default.contentsOfDirectory(atPath: frameDirectory.path)
            .filter { $0.hasSuffix(".png") }.sorted()
        #expect(frames.count == 8)
        let tiling = try DynamicTiling(maxTiles: 1)
        for (k, frame) in frames.enumerated() {
            let image = try ImageDecoder().decode(path: frameDirectory.appendingPathComponent(frame).path)
            let (grid, tiles) = tiling.tiles(of: image)
            #expect(grid == TileGrid(columns: 1, rows: 1))
            #expect(tiles.count == 1)
            let golden = try ImageDecoder().decode(path: FixtureFiles.golden(String(format: "tiles/video_8_frames_frames_t%02d.png", k)))
            let difference = ByteDifference(tiles[0].pixels, golden.pixels)
            #expect(difference.differing == 0, "\(frame): \(difference)")
        }
    }
}
