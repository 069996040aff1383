import CFFmpeg

/// Work done by one `frames(at:)` call; tests use it to see that seeking happened, never to time anything.
struct ReadStatistics: Equatable, Sendable {
    /// Seeks to a keyframe.
    var seeks = 0
    /// Frames the decoder produced (wanted or not).
    var decodedFrames = 0
    /// The timestamp-guided read met something it could not vouch for and was redone from the first frame.
    var restartedFromFirstFrame = false
}

/// A timestamp-guided read met a frame it cannot place exactly (no timestamp, an unknown or out-of-order
/// one, or a seek that landed past the wanted frame); the caller then reads from the first frame instead.
struct UnplaceableFrame: Error {}

/// The two ways to fetch frames; both give frame `i` = the `i`-th frame shown.
enum FrameReads {
    /// Decodes from the first frame and numbers frames in output order, up to the largest wanted index.
    static func fromFirstFrame(path: String, maxPixels: Int, wanted: Set<Int>,
                               statistics: inout ReadStatistics) throws -> [Int: RGBFrame] {
        guard let last = wanted.max() else { return [:] }
        let input = try DemuxedInput(path: path, maxPixels: maxPixels)
        let decoder = try StreamDecoder(for: input, maxPixels: maxPixels)
        let converter = RGBConverter(path: path, maxPixels: maxPixels)
        var decoded: [Int: RGBFrame] = [:]
        var nextIndex = 0
        var produced = 0
        let collect: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
            produced += 1
            if wanted.contains(nextIndex) { decoded[nextIndex] = try converter.convert(frame) }
            nextIndex += 1
        }
        defer { statistics.decodedFrames += produced }
        while nextIndex <= last, let packet = try input.nextPacket() {
            try decoder.decode(packet, collect)
        }
        if nextIndex <= last { try decoder.decode(nil, collect) }
        if nextIndex <= last {
            throw VideoError.corruptStream(
                path: path, detail: "the stream ended after \(nextIndex) decoded frames; frame \(last) was requested")
        }
        return decoded
    }

    /// Visits wanted frames in ascending order; before each, seeks to the keyframe shown at or before it unless
    /// decoding forward already passed that keyframe. Decoded frames are numbered by their presentation
    /// timestamps in `index`. Throws `UnplaceableFrame` when numbering by timestamp cannot be trusted.
    static func fromKeyframes(path: String, maxPixels: Int, index: FrameIndex, wanted: Set<Int>,
                              statistics: inout ReadStatistics) throws -> [Int: RGBFrame] {
        let input = try DemuxedInput(path: path, maxPixels: maxPixels)
        let decoder = try StreamDecoder(for: input, maxPixels: maxPixels)
        let converter = RGBConverter(path: path, maxPixels: maxPixels)
        let none = cffmpeg_no_timestamp()
        var decoded: [Int: RGBFrame] = [:]
        var lastShown: Int64? = nil       // latest timestamp output since the last seek
        var floor = Int64.min             // frames before the keyframe sought to may be damaged: ignored
        var produced = 0
        var pending: UnsafeMutablePointer<AVPacket>? = nil  // first packet read after a seek
        defer { statistics.decodedFrames += produced }

        for target in wanted.sorted() where decoded[target] == nil {
            let targetTime = index.presentationTimes[target]
            if let position = index.keyframePosition(atOrBefore: targetTime), position > 0 {
                let keyframe = index.keyframes[position]
                if lastShown.map({ keyframe.presentationTime > $0 }) ?? true {
                    pending = try landOn(keyframe, in: input)
                    decoder.reset()
                    statistics.seeks += 1
                    lastShown = nil
                    floor = keyframe.presentationTime
                }
            }
            var found = false
            let collect: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
                produced += 1
                let time = frame.pointee.pts != none ? frame.pointee.pts : frame.pointee.best_effort_timestamp
                guard time != none else { throw UnplaceableFrame() }
                if time < floor { return }
                guard let number = index.frameNumber(at: time), lastShown.map({ time > $0 }) ?? true else {
                    throw UnplaceableFrame()
                }
                lastShown = time
                if time > targetTime && !found { throw UnplaceableFrame() }
                if wanted.contains(number) && decoded[number] == nil { decoded[number] = try converter.convert(frame) }
                if number == target { found = true }
            }
            var flushed = false
            while !found {
                if let packet = pending {
                    pending = nil
                    try decoder.decode(packet, collect)
                } else if let packet = try input.nextPacket() {
                    try decoder.decode(packet, collect)
                } else if !flushed {
                    try decoder.decode(nil, collect)
                    flushed = true
                } else {
                    throw UnplaceableFrame()
                }
            }
            if flushed { decoder.reset() }
        }
        return decoded
    }

    /// Seeks so that reading resumes at `keyframe` (or an earlier keyframe) and returns the first packet read
    /// there. Containers index by presentation time (Matroska) or by decode time (MP4, with its own offsets),
    /// so the presentation time is tried first and the decode time second; a landing is accepted only on a
    /// keyframe packet shown no later than `keyframe`.
    private static func landOn(_ keyframe: FrameIndex.Keyframe,
                               in input: DemuxedInput) throws -> UnsafeMutablePointer<AVPacket> {
        let none = cffmpeg_no_timestamp()
        var times = [keyframe.presentationTime]
        if keyframe.seekTime != keyframe.presentationTime { times.append(keyframe.seekTime) }
        for time in times where input.seek(to: time) {
            guard let first = try input.nextPacket() else { continue }
            let pts = first.pointee.pts
            if pts != none, pts <= keyframe.presentationTime, first.pointee.flags & AV_PKT_FLAG_KEY != 0 {
                return first
            }
        }
        throw UnplaceableFrame()
    }
}
