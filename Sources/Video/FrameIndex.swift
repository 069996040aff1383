import CFFmpeg

/// What one pass over a video stream's packets (no decoding) learns: how many frames it shows, and, when
/// every frame has its own presentation timestamp, where each frame and each keyframe sits in time, so a
/// read can start at the keyframe before a wanted frame instead of at the first frame.
struct FrameIndex: Sendable {
    /// A keyframe: where a decoder can start.
    struct Keyframe: Sendable {
        /// Its presentation timestamp (stream time base).
        var presentationTime: Int64
        /// The timestamp to give `av_seek_frame` to land on it (its decode timestamp when known, which is
        /// what MP4 indexes by; never later than its presentation timestamp).
        var seekTime: Int64
    }

    /// Frames shown: packets of the stream, not counting those the container marks to be discarded
    /// (MP4 edit lists), which the decoder decodes for reference but never outputs.
    private(set) var frameCount = 0
    /// Presentation timestamps of the shown frames, ascending: frame `i` has `presentationTimes[i]`.
    /// Meaningful only when `isSeekable`.
    private(set) var presentationTimes: [Int64] = []
    /// Keyframes in ascending presentation time.
    private(set) var keyframes: [Keyframe] = []
    /// Every shown frame had a timestamp and no two shared one, so timestamps identify frames.
    private(set) var isSeekable = true

    /// Adds one packet of the stream, in file order.
    mutating func add(_ packet: AVPacket) {
        if packet.flags & AV_PKT_FLAG_DISCARD != 0 { return }
        frameCount += 1
        let none = cffmpeg_no_timestamp()
        guard isSeekable, packet.pts != none else {
            isSeekable = false
            return
        }
        presentationTimes.append(packet.pts)
        if packet.flags & AV_PKT_FLAG_KEY != 0 {
            let seekTime = packet.dts == none ? packet.pts : min(packet.dts, packet.pts)
            keyframes.append(Keyframe(presentationTime: packet.pts, seekTime: seekTime))
        }
    }

    /// Sorts what was gathered; call once after the last packet.
    mutating func finish() {
        guard isSeekable else {
            presentationTimes = []
            keyframes = []
            return
        }
        presentationTimes.sort()
        keyframes.sort { $0.presentationTime < $1.presentationTime }
        for i in presentationTimes.indices.dropFirst() where presentationTimes[i] == presentationTimes[i - 1] {
            isSeekable = false
        }
        if keyframes.isEmpty { isSeekable = false }
        if !isSeekable {
            presentationTimes = []
            keyframes = []
        }
    }

    /// The frame number shown at presentation timestamp `time`, if a frame has exactly that timestamp.
    func frameNumber(at time: Int64) -> Int? {
        var low = 0, high = presentationTimes.count
        while low < high {
            let middle = (low + high) / 2
            if presentationTimes[middle] < time { low = middle + 1 } else { high = middle }
        }
        return low < presentationTimes.count && presentationTimes[low] == time ? low : nil
    }

    /// The position in `keyframes` of the last keyframe shown at or before `time`, if any.
    func keyframePosition(atOrBefore time: Int64) -> Int? {
        var low = 0, high = keyframes.count
        while low < high {
            let middle = (low + high) / 2
            if keyframes[middle].presentationTime <= time { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }
}
