import Testing

@testable import Kernels

extension OpsKernelTests {
    @Suite struct PixelShuffle {
        /// A value that names its source: image n, row y, column x, channel c.
        static func code(_ n: Int, _ y: Int, _ x: Int, _ c: Int) -> Float { Float(n * 1_000_000 + y * 10_000 + x * 100 + c) }

        @Test(arguments: [(2, 4, 6, 3), (1, 32, 32, 5), (3, 2, 2, 1)])
        func followsTheV2ChannelBlockOrder(images: Int, height: Int, width: Int, channels: Int) throws {
            var x = [Float]()
            for n in 0..<images { for y in 0..<height { for xx in 0..<width { for c in 0..<channels {
                x.append(Self.code(n, y, xx, c))
            } } } }
            var out = [Float](repeating: .nan, count: x.count)
            try x.withUnsafeBufferPointer { xb in
                try out.withUnsafeMutableBufferPointer {
                    try Ops.pixelShuffleV2(xb, into: $0, height: height, width: width, channels: channels,
                                           images: 0..<images)
                }
            }
            // MODEL.md section 5: out[i, j] = x[2i, 2j] | x[2i, 2j+1] | x[2i+1, 2j] | x[2i+1, 2j+1].
            let oh = height / 2, ow = width / 2
            var expected = [Float]()
            for n in 0..<images { for i in 0..<oh { for j in 0..<ow {
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    for c in 0..<channels { expected.append(Self.code(n, 2 * i + dy, 2 * j + dx, c)) }
                }
            } } }
            #expect(mismatches(out, expected) == 0)
        }

        @Test func imageRangeWritesOnlyThoseImages() throws {
            let x = (0..<(3 * 4 * 4 * 2)).map(Float.init)
            var out = [Float](repeating: -1, count: x.count)
            try x.withUnsafeBufferPointer { xb in
                try out.withUnsafeMutableBufferPointer {
                    try Ops.pixelShuffleV2(xb, into: $0, height: 4, width: 4, channels: 2, images: 1..<2)
                }
            }
            #expect(out[0..<32].allSatisfy { $0 == -1 })
            #expect(out[64...].allSatisfy { $0 == -1 })
            #expect(Set(out[32..<64]) == Set(x[32..<64]))
        }

        @Test func rejectsOddGrid() {
            let x = [Float](repeating: 0, count: 30)
            var out = x
            _ = x.withUnsafeBufferPointer { xb in
                out.withUnsafeMutableBufferPointer { ob in
                    #expect(throws: OpsError.self) {
                        try Ops.pixelShuffleV2(xb, into: ob, height: 3, width: 2, channels: 5, images: 0..<1)
                    }
                }
            }
        }
    }
}
