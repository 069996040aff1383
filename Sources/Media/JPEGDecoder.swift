import CImageCodecs

/// JPEG to RGB through TurboJPEG, matching Pillow 13 (libjpeg-turbo, accurate integer DCT, fancy
/// upsampling) followed by `convert("RGB")`:
///
/// * YCbCr and RGB JPEGs: libjpeg's colour conversion to RGB;
/// * grayscale: replicated to R = G = B;
/// * CMYK and YCCK: decoded to CMYK, then inverted as Pillow always does for 4-component JPEGs
///   (rawmode `CMYK;I`, "Adobe convention"), then Pillow's `cmyk2rgb`:
///   `nk = 255 - k; out = clip(nk - (c * nk + 128 + ((c * nk + 128) >> 8)) >> 8)`.
///
/// A stream that ends early is an error (Pillow raises "image file is truncated"); other libjpeg warnings
/// (for example extraneous bytes before a marker) are ignored as Pillow ignores them.
enum JPEGDecoder {
    static func decode(_ bytes: [UInt8], file: String, maxPixels: Int) throws -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw MediaError.corrupt(file: file, format: "JPEG", detail: "cannot create a TurboJPEG decompressor")
        }
        defer { tjDestroy(handle) }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let headerStatus = bytes.withUnsafeBufferPointer { data in
            tjDecompressHeader3(handle, data.baseAddress, UInt(data.count), &width, &height, &subsampling, &colorspace)
        }
        if headerStatus != 0 { throw failure(handle, file: file) }
        if width <= 0 || height <= 0 {
            // libjpeg ran out of data before a frame header: only tables (or nothing) were found.
            throw MediaError.corrupt(file: file, format: "JPEG", detail: "no frame header (SOF marker) found")
        }
        try ImageDecoder.checkSize(width: Int(width), height: Int(height), file: file, maxPixels: maxPixels)

        let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let components = isCMYK ? 4 : 3
        let format = isCMYK ? TJPF_CMYK : TJPF_RGB
        var decoded = [UInt8](repeating: 0, count: Int(width) * Int(height) * components)
        let status = bytes.withUnsafeBufferPointer { data in
            decoded.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, data.baseAddress, UInt(data.count), out.baseAddress,
                              width, 0, height, Int32(format.rawValue), 0)
            }
        }
        if status != 0 {
            let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            let text = String(cString: tjGetErrorStr2(handle))
            if !isWarning || text.contains("Premature end") { throw failure(handle, file: file) }
        }
        if !isCMYK {
            return RGBImage(width: Int(width), height: Int(height), pixels: decoded)
        }
        return RGBImage(width: Int(width), height: Int(height), pixels: invertedCMYKToRGB(decoded))
    }

    /// Pillow's `CMYK;I` unpacking (255 - sample) followed by its `cmyk2rgb`.
    static func invertedCMYKToRGB(_ cmyk: [UInt8]) -> [UInt8] {
        let count = cmyk.count / 4
        var out = [UInt8](repeating: 0, count: count * 3)
        @inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int {
            let t = a * b + 128
            return ((t >> 8) + t) >> 8
        }
        for i in 0..<count {
            let nk = Int(cmyk[i * 4 + 3])  // 255 - (255 - k)
            for c in 0..<3 {
                let value = 255 - Int(cmyk[i * 4 + c])
                out[i * 3 + c] = UInt8(clamping: nk - mulDiv255(value, nk))
            }
        }
        return out
    }

    private static func failure(_ handle: tjhandle, file: String) -> MediaError {
        let text = String(cString: tjGetErrorStr2(handle))
        if text.contains("Premature end") {
            return .truncated(file: file, format: "JPEG", detail: "TurboJPEG: \(text)")
        }
        return .corrupt(file: file, format: "JPEG", detail: "TurboJPEG: \(text)")
    }
}
