import CImageSupport

/// PNG to RGB, matching Pillow 13's PNG plugin followed by `convert("RGB")`:
///
/// * gray 1/2/4/8 bit: sample scaled to 8 bits (x255, x85, x17, x1) and replicated (modes 1, L);
/// * gray 16 bit: Pillow opens it as `I;16` and `I;16 -> RGB` CLIPS: `min(value, 255)`, replicated;
/// * RGB / RGBA / gray+alpha 16 bit: the high byte of each big-endian sample (`RGB;16B`, `RGBA;16B`, `LA;16B`);
/// * any alpha channel and any tRNS chunk are dropped, never composited;
/// * palette: index looked up in PLTE; an index past the PLTE entries gives black (0, 0, 0);
/// * no gamma (gAMA, sRGB, iCCP) or sBIT correction; Adam7 interlacing is undone;
/// * a bad CRC in a chunk before the image data is an error, a bad IDAT CRC is ignored (as Pillow does).
enum PNGDecoder {
    private static let errorCapacity = 512

    static func decode(_ bytes: [UInt8], file: String, maxPixels: Int) throws -> RGBImage {
        // Size from IHDR (bytes 16..<24) before libpng sees anything.
        guard bytes.count >= 33 else {
            throw MediaError.truncated(file: file, format: "PNG", detail: "\(bytes.count) bytes, the IHDR chunk needs 33")
        }
        guard Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw MediaError.corrupt(file: file, format: "PNG", detail: "first chunk is not IHDR")
        }
        let width = Int(readBigEndian32(bytes, at: 16))
        let height = Int(readBigEndian32(bytes, at: 20))
        try ImageDecoder.checkSize(width: width, height: height, file: file, maxPixels: maxPixels)

        var info = cis_png_info()
        var message = [CChar](repeating: 0, count: errorCapacity)
        let headerStatus = bytes.withUnsafeBufferPointer { data in
            cis_png_read_info(data.baseAddress, data.count, &info, &message, errorCapacity)
        }
        if headerStatus != 0 { throw failure(message, file: file) }
        guard Int(info.width) == width, Int(info.height) == height else {
            throw MediaError.corrupt(file: file, format: "PNG", detail: "IHDR size changed while reading")
        }

        let rowBytes = Int(info.row_bytes)
        var raw = [UInt8](repeating: 0, count: rowBytes * height)
        let decodeStatus = bytes.withUnsafeBufferPointer { data in
            raw.withUnsafeMutableBufferPointer { out in
                cis_png_decode(data.baseAddress, data.count, &info, out.baseAddress, out.count,
                               &message, errorCapacity)
            }
        }
        if decodeStatus != 0 { throw failure(message, file: file) }
        return convertToRGB(raw, info: info, rowBytes: rowBytes)
    }

    private static func readBigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (UInt32(bytes[offset]) << 24) | (UInt32(bytes[offset + 1]) << 16)
            | (UInt32(bytes[offset + 2]) << 8) | UInt32(bytes[offset + 3])
    }

    private static func failure(_ message: [CChar], file: String) -> MediaError {
        let text = String(cString: message)
        let truncatedMarkers = ["unexpected end of data", "Not enough image data", "Read Error"]
        if truncatedMarkers.contains(where: { text.contains($0) }) {
            return .truncated(file: file, format: "PNG", detail: "libpng: \(text)")
        }
        return .corrupt(file: file, format: "PNG", detail: "libpng: \(text)")
    }

    /// Applies Pillow's mode mapping and `convert("RGB")` to the unpacked rows.
    private static func convertToRGB(_ raw: [UInt8], info: cis_png_info, rowBytes: Int) -> RGBImage {
        let width = Int(info.width)
        let height = Int(info.height)
        let channels = Int(info.channels)
        let depth = Int(info.bit_depth)
        let sampleBytes = Int(info.bytes_per_sample)
        var palette = [UInt8](repeating: 0, count: 256 * 3)
        withUnsafeBytes(of: info.palette) { source in
            for i in 0..<(Int(info.palette_count) * 3) { palette[i] = source[i] }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let grayScale: Int = depth == 1 ? 255 : depth == 2 ? 85 : depth == 4 ? 17 : 1
        let isPalette = info.color_type == 3
        let isGray16 = depth == 16 && channels <= 2 && (info.color_type == 0)

        raw.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for y in 0..<height {
                    let row = y * rowBytes
                    for x in 0..<width {
                        let pixel = row + x * channels * sampleBytes
                        let o = (y * width + x) * 3
                        if isPalette {
                            let index = Int(source[pixel]) * 3
                            destination[o] = palette[index]
                            destination[o + 1] = palette[index + 1]
                            destination[o + 2] = palette[index + 2]
                        } else if channels <= 2 {
                            let value: UInt8
                            if isGray16 {
                                // I;16 -> RGB clips at 255.
                                value = source[pixel] == 0 ? source[pixel + 1] : 255
                            } else if sampleBytes == 2 {
                                value = source[pixel]  // LA;16B: high byte
                            } else {
                                value = UInt8(Int(source[pixel]) * grayScale)
                            }
                            destination[o] = value
                            destination[o + 1] = value
                            destination[o + 2] = value
                        } else {
                            // RGB or RGBA: first three samples, high byte when 16-bit; alpha dropped.
                            destination[o] = source[pixel]
                            destination[o + 1] = source[pixel + sampleBytes]
                            destination[o + 2] = source[pixel + 2 * sampleBytes]
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
