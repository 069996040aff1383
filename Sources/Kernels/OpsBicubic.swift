/// PyTorch's bicubic interpolation (`F.interpolate(mode='bicubic', align_corners=False)`) of a [C, H, W] grid.
///
/// Used once per input shape to resize the ViT position embedding (32x32 -> h x w), so it is plain Swift.
/// The arithmetic follows PyTorch's float path: source coordinate `scale * (dst + 0.5) - 0.5` with
/// `scale = in / out` (not clamped), Keys' cubic convolution with A = -0.75, taps at floor - 1 ... floor + 2
/// clamped to the border, each output row computed as `sum_y wy * (sum_x wx * input)`.
extension Ops {
    /// Resizes `input` ([channels, height, width] row-major) to [channels, outHeight, outWidth].
    public static func bicubicResize(
        _ input: [Float], channels: Int, height: Int, width: Int, outHeight: Int, outWidth: Int
    ) throws(OpsError) -> [Float] {
        let op = "bicubicResize"
        try require(channels >= 1, op, "channels", channels, ">= 1")
        try require(height >= 1, op, "height", height, ">= 1")
        try require(width >= 1, op, "width", width, ">= 1")
        try require(outHeight >= 1, op, "outHeight", outHeight, ">= 1")
        try require(outWidth >= 1, op, "outWidth", outWidth, ">= 1")
        try require(input.count == channels * height * width, op, "input.count", input.count,
                    "channels * height * width (\(channels * height * width))")

        let rowTaps = bicubicTaps(inSize: height, outSize: outHeight)
        let colTaps = bicubicTaps(inSize: width, outSize: outWidth)
        var output = [Float](repeating: 0, count: channels * outHeight * outWidth)
        for c in 0..<channels {
            let plane = c * height * width
            for oy in 0..<outHeight {
                let ty = rowTaps[oy]
                for ox in 0..<outWidth {
                    let tx = colTaps[ox]
                    var value: Float = 0
                    for a in 0..<4 {
                        let row = plane + ty.index[a] * width
                        var inner: Float = 0
                        for b in 0..<4 {
                            inner += tx.weight[b] * input[row + tx.index[b]]
                        }
                        value += ty.weight[a] * inner
                    }
                    output[(c * outHeight + oy) * outWidth + ox] = value
                }
            }
        }
        return output
    }

    /// The four clamped source indices and cubic weights of each output coordinate along one axis.
    static func bicubicTaps(inSize: Int, outSize: Int) -> [(index: [Int], weight: [Float])] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { dst in
            let real = scale * (Float(dst) + 0.5) - 0.5
            let base = real.rounded(.down)
            let t = real - base
            let i0 = Int(base)
            let index = (-1...2).map { min(max(i0 + $0, 0), inSize - 1) }
            return (index, cubicWeights(t))
        }
    }

    /// Keys' cubic convolution weights (A = -0.75) of the taps at offsets -1, 0, 1, 2 for fraction `t`.
    static func cubicWeights(_ t: Float) -> [Float] {
        let a: Float = -0.75
        // |x| <= 1: ((A + 2) x - (A + 3)) x^2 + 1;   1 < |x| < 2: ((A x - 5A) x + 8A) x - 4A
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        let u = 1 - t
        return [far(t + 1), near(t), near(u), far(u + 1)]
    }
}
