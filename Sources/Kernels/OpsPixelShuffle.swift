import CKernels

extension Ops {
    /// InternVL pixel shuffle v2 (scale 0.5) of images `images` of a [n, height, width, channels] grid into
    /// [n, height/2, width/2, 4 * channels]: output cell (i, j) holds the input cells (2i, 2j), (2i, 2j+1),
    /// (2i+1, 2j), (2i+1, 2j+1) in that channel-block order. Height and width must be even; `x` and `y` must not
    /// overlap.
    public static func pixelShuffleV2(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, height: Int, width: Int,
        channels: Int, images: Range<Int>
    ) throws(OpsError) {
        let op = "pixelShuffleV2"
        try require(height >= 2 && height % 2 == 0, op, "height", height, "even and >= 2")
        try require(width >= 2 && width % 2 == 0, op, "width", width, "even and >= 2")
        try require(channels >= 1, op, "channels", channels, ">= 1")
        try require(images.lowerBound >= 0, op, "images.lowerBound", images.lowerBound, ">= 0")
        let perImage = height * width * channels
        try check(op, "x", count: x.count, needed: images.upperBound * perImage)
        try check(op, "y", count: y.count, needed: images.upperBound * perImage)
        ck_pixel_shuffle_v2_f32(
            x.baseAddress, y.baseAddress, height, width, channels, images.lowerBound, images.upperBound)
    }
}
