import Foundation

/// Locations of the golden fixtures and of this target's own test images, found from this file's path.
enum FixtureFiles {
    /// `Tests/Fixtures/internvl2-tiny`.
    static let goldenDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/internvl2-tiny")

    /// `Tests/MediaTests/Resources` (made by `Scripts/generate_media_test_images.py`).
    static let resourceDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Resources")

    /// Absolute path of a file inside the golden fixture directory.
    static func golden(_ relativePath: String) -> String {
        goldenDirectory.appendingPathComponent(relativePath).path
    }

    /// Absolute path of a file inside `Resources`.
    static func resource(_ name: String) -> String {
        resourceDirectory.appendingPathComponent(name).path
    }

    /// `manifest.json` with Python's bare `NaN` tokens (in the noise-floor section) turned into `null`,
    /// which JSON allows.
    static func manifestData() throws -> Data {
        let text = try String(contentsOf: goldenDirectory.appendingPathComponent("manifest.json"), encoding: .utf8)
        return Data(text.replacingOccurrences(of: ": NaN", with: ": null").utf8)
    }

    /// The parts of `manifest.json` the media tests use.
    static let manifest: GoldenManifest = {
        let url = goldenDirectory.appendingPathComponent("manifest.json")
        do {
            return try JSONDecoder().decode(GoldenManifest.self, from: manifestData())
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }()
}

/// The media sections of the fixture manifest.
struct GoldenManifest: Decodable {
    struct Grid: Decodable {
        let cols: Int
        let rows: Int
    }

    struct Preprocess: Decodable {
        let image: String
        let max_num: Int
        let min_num: Int
        let image_size: Int
        let input_width: Int
        let input_height: Int
        let grid: Grid
        let num_tiles: Int
        let thumbnail_appended: Bool
        let tile_sha256: [String]
        let tile_fingerprint: String
        let tiles_png: [String]?
        let pixel_values: String?
    }

    struct AspectRatioCase: Decodable {
        let width: Int
        let height: Int
        let min_num: Int
        let max_num: Int
        let image_size: Int
        let chosen: [Int]
        let num_tiles: Int
    }

    struct FrameIndexCase: Decodable {
        let bound: [Double]?
        let fps: Double
        let max_frame: Int
        let first_idx: Int
        let num_segments: Int
        let indices: [Int]
    }

    struct ImageInfo: Decodable {
        let file: String
        let mode: String
        let width: Int
        let height: Int
    }

    let images: [String: ImageInfo]
    let preprocess: [Preprocess]
    let aspect_ratio_grid: [AspectRatioCase]
    let target_ratio_order: [String: [[Int]]]
    let get_index: [FrameIndexCase]
}
