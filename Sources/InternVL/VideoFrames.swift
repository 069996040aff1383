import Media
import Video

/// Video input as the model card's `load_video` prepares it.
public enum VideoFrames {
    /// Decodes the `segments` frames that the reference `get_index` picks from the whole video at `path` (no time
    /// bound, first frame 0), as RGB images in order; each later becomes one 448x448 tile.
    /// - Throws: `VideoError` naming the file for a missing, unreadable or oversized video.
    public static func load(path: String, segments: Int, maxPixels: Int = VideoReader.defaultMaxPixels) throws -> [RGBImage] {
        guard segments >= 1 else {
            throw InternVLError.invalidSetting(name: "frames", value: "\(segments)", rule: "must be at least 1")
        }
        let reader = try VideoReader(path: path, maxPixels: maxPixels)
        let indices = VideoFrameSampling.frameIndices(bound: nil, fps: reader.fps, maxFrame: reader.frameCount - 1,
                                                      firstIndex: 0, numSegments: segments)
        return try reader.frames(at: indices).map { RGBImage(width: $0.width, height: $0.height, pixels: $0.pixels) }
    }
}
