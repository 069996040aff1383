import Testing

@testable import Kernels

extension OpsKernelTests {
    @Suite struct Bicubic {
        /// Keys' cubic kernel with A = -0.75, written from its piecewise definition in |x| (not the factored form).
        static func kernel(_ x: Double) -> Double {
            let a = -0.75, u = abs(x)
            if u <= 1 { return (a + 2) * u * u * u - (a + 3) * u * u + 1 }
            if u < 2 { return a * u * u * u - 5 * a * u * u + 8 * a * u - 4 * a }
            return 0
        }

        /// PyTorch bicubic, align_corners=False, border clamp: the source coordinate in float as PyTorch's
        /// float path computes it, everything after it (weights, sums) in Double.
        static func reference(_ input: [Float], c: Int, h: Int, w: Int, oh: Int, ow: Int) -> [Double] {
            func taps(_ n: Int, _ o: Int, _ dst: Int) -> [(Int, Double)] {
                let scale = Float(n) / Float(o)
                let src = Double(scale * (Float(dst) + 0.5) - 0.5)
                let f = src.rounded(.down)
                return (-1...2).map { k in
                    let idx = min(max(Int(f) + k, 0), n - 1)
                    return (idx, kernel(src - (f + Double(k))))
                }
            }
            var out = [Double]()
            for ch in 0..<c {
                for y in 0..<oh {
                    for x in 0..<ow {
                        var v = 0.0
                        for (iy, wy) in taps(h, oh, y) {
                            for (ix, wx) in taps(w, ow, x) { v += wy * wx * Double(input[(ch * h + iy) * w + ix]) }
                        }
                        out.append(v)
                    }
                }
            }
            return out
        }

        @Test(arguments: [(2, 4, 5, 3, 7), (3, 32, 32, 12, 18), (1, 3, 3, 8, 5), (2, 32, 32, 40, 24)])
        func matchesDoublePyTorchFormula(c: Int, h: Int, w: Int, oh: Int, ow: Int) throws {
            var rng = OpsRandom(seed: UInt64(h * 100 + oh))
            let input = rng.floats(c * h * w, -2, 2)
            let got = try Ops.bicubicResize(input, channels: c, height: h, width: w, outHeight: oh, outWidth: ow)
            let ref = Self.reference(input, c: c, h: h, w: w, oh: oh, ow: ow)
            #expect(worstRatio(got, ref, atol: 2e-6, rtol: 1e-6) <= 1)
        }

        @Test func sameSizeIsIdentity() throws {
            var rng = OpsRandom(seed: 5)
            let input = rng.floats(4 * 32 * 32)
            let got = try Ops.bicubicResize(input, channels: 4, height: 32, width: 32, outHeight: 32, outWidth: 32)
            #expect(mismatches(got, input) == 0)
        }

        @Test func rejectsMismatchedInput() {
            #expect(throws: OpsError.self) {
                _ = try Ops.bicubicResize([1, 2, 3], channels: 1, height: 2, width: 2, outHeight: 1, outWidth: 1)
            }
        }
    }
}
