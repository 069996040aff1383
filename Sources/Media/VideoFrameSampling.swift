/// The model card's `get_index` for `load_video`: which frames to sample from a video.
public enum VideoFrameSampling {
    /// Frame indices exactly as the reference computes them:
    /// `start, end = bound or (-100000, 100000)`; `start_idx = max(firstIndex, round(start * fps))`;
    /// `end_idx = min(round(end * fps), maxFrame)`; `seg = (end_idx - start_idx) / numSegments`;
    /// index k = `int(start_idx + seg / 2 + round(seg * k))`, with round-half-to-even and truncation toward zero.
    ///
    /// - Parameters:
    ///   - bound: optional (start, end) in seconds.
    ///   - fps: the video's average frame rate.
    ///   - maxFrame: the last frame index (frame count - 1).
    ///   - firstIndex: the smallest allowed index.
    ///   - numSegments: how many frames to return (8 in the model-card README).
    public static func frameIndices(bound: (start: Double, end: Double)?, fps: Double, maxFrame: Int,
                                    firstIndex: Int = 0, numSegments: Int) -> [Int] {
        precondition(numSegments > 0, "VideoFrameSampling: numSegments = \(numSegments) must be positive")
        let start = bound?.start ?? -100_000
        let end = bound?.end ?? 100_000
        let startIndex = max(firstIndex, Int((start * fps).rounded(.toNearestOrEven)))
        let endIndex = min(Int((end * fps).rounded(.toNearestOrEven)), maxFrame)
        let segment = Double(endIndex - startIndex) / Double(numSegments)
        return (0..<numSegments).map { k in
            let position = Double(startIndex) + segment / 2 + (segment * Double(k)).rounded(.toNearestOrEven)
            return Int(position)  // Swift's Int(Double) truncates toward zero, like Python's int().
        }
    }
}
