import Testing
@testable import Media

/// The model card's `get_index` against every manifest record.
@Suite struct FrameIndexTests {
    @Test func everyGetIndexEntryMatches() {
        let cases = FixtureFiles.manifest.get_index
        #expect(cases.count >= 10)
        for entry in cases {
            let bound = entry.bound.map { (start: $0[0], end: $0[1]) }
            let got = VideoFrameSampling.frameIndices(bound: bound, fps: entry.fps, maxFrame: entry.max_frame,
                                                      firstIndex: entry.first_idx, numSegments: entry.num_segments)
            #expect(got == entry.indices, "bound \(String(describing: entry.bound)) fps \(entry.fps) max \(entry.max_frame)")
        }
    }

    @Test func roundsHalfToEven() {
        // seg = 1.0 (8 frames over 8 segments): positions 0.5 + k -> truncated to k.
        #expect(VideoFrameSampling.frameIndices(bound: nil, fps: 1, maxFrame: 8, numSegments: 8) == Array(0..<8))
        // start 2.5 * 1 rounds to 2 (half to even), end 4.5 rounds to 4.
        #expect(VideoFrameSampling.frameIndices(bound: (2.5, 4.5), fps: 1, maxFrame: 100, numSegments: 2) == [2, 3])
    }
}
