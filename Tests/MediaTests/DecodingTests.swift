import CImageCodecs
import Foundation
import Testing
@testable import Media

/// PNG/JPEG decoding against Pillow's `convert("RGB")`, and the typed errors for bad input.
@Suite struct DecodingTests {
    /// Test images made by Scripts/generate_media_test_images.py, each with Pillow 13's RGB bytes beside it.
    static let pillowCases = [
        "gray1.png", "gray2.png", "gray4.png", "gray8.png", "gray16.png", "gray8_trns.png",
        "rgb8.png", "rgb16.png", "rgba8.png", "rgba16.png", "la8.png", "la16.png",
        "rgb8_interlaced.png", "gray4_interlaced.png", "rgba16_interlaced.png",
        "palette8_trns.png", "palette4.png", "palette1_interlaced.png", "palette_out_of_range.png",
        "ycc420.jpg", "gray.jpg", "cmyk.jpg",
    ]

    @Test(arguments: pillowCases)
    func decodesLikePillow(name: String) throws {
        let image = try ImageDecoder().decode(path: FixtureFiles.resource(name))
        let stem = String(name.split(separator: ".")[0])
        let expected = try NpyArray(path: FixtureFiles.resource("\(stem).expected.npy"))
        #expect(expected.shape == [image.height, image.width, 3])
        let difference = ByteDifference(image.pixels, expected.bytes)
        #expect(difference.differing == 0, "\(name): \(difference)")
    }

    @Test func rgbaDropsAlphaWithoutCompositing() throws {
        let path = FixtureFiles.golden("images/logo2_rgba.png")
        let image = try ImageDecoder().decode(path: path)
        #expect(image.width == 542 && image.height == 130)
        // libpng's simplified reader gives straight (not premultiplied) RGBA for 8-bit output.
        let rgba = try simplifiedRead(path: path, format: 3 /* PNG_FORMAT_RGBA */, channels: 4)
        var transparent = 0
        var transparentNonBlack = 0
        var mismatches = 0
        for i in 0..<(image.width * image.height) {
            if image.pixels[i * 3] != rgba[i * 4] || image.pixels[i * 3 + 1] != rgba[i * 4 + 1]
                || image.pixels[i * 3 + 2] != rgba[i * 4 + 2] {
                mismatches += 1
            }
            if rgba[i * 4 + 3] < 255 {
                transparent += 1
                if rgba[i * 4] | rgba[i * 4 + 1] | rgba[i * 4 + 2] != 0 { transparentNonBlack += 1 }
            }
        }
        #expect(mismatches == 0, "RGB differs from the RGBA file's colour samples in \(mismatches) pixels")
        #expect(transparent > 0, "the fixture has translucent pixels")
        print("logo2_rgba: \(transparent) pixels with alpha < 255, \(transparentNonBlack) of them not black")
    }

    @Test func grayscaleIsReplicated() throws {
        let path = FixtureFiles.golden("images/camera_gray.png")
        let image = try ImageDecoder().decode(path: path)
        let gray = try simplifiedRead(path: path, format: 0 /* PNG_FORMAT_GRAY */, channels: 1)
        #expect(image.width == 512 && image.height == 512)
        var mismatches = 0
        for i in 0..<(image.width * image.height) where
            image.pixels[i * 3] != gray[i] || image.pixels[i * 3 + 1] != gray[i] || image.pixels[i * 3 + 2] != gray[i] {
            mismatches += 1
        }
        #expect(mismatches == 0)
        #expect(Set(gray).count > 100, "a real photo, not a constant")
    }

    @Test func turboJPEGRoundTripStaysWithinJPEGLoss() throws {
        let source = try ImageDecoder().decode(path: FixtureFiles.golden("images/grace_hopper.png"))
        let jpeg = try compressJPEG(source, quality: 95)
        #expect(ImageFormat.sniff(jpeg) == .jpeg)
        let decoded = try ImageDecoder().decode(bytes: jpeg, name: "roundtrip.jpg")
        #expect(decoded.width == source.width && decoded.height == source.height)
        var squared = 0.0
        var maxAbsolute = 0
        for i in source.pixels.indices {
            let d = Int(source.pixels[i]) - Int(decoded.pixels[i])
            squared += Double(d * d)
            maxAbsolute = max(maxAbsolute, abs(d))
        }
        let psnr = 10 * log10(255.0 * 255.0 / (squared / Double(source.pixels.count)))
        print("JPEG q95 4:4:4 round trip: PSNR \(psnr) dB, max |d| \(maxAbsolute)")
        #expect(psnr > 38)
        #expect(maxAbsolute < 64)
    }

    /// A 12-megapixel JPEG decodes to the right size, within JPEG loss. Prints the decode time (not asserted).
    @Test func largeJPEGDecodes() throws {
        let width = 4032, height = 3024
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let o = (y * width + x) * 3
                pixels[o] = UInt8(x % 256); pixels[o + 1] = UInt8(y % 256); pixels[o + 2] = UInt8((x + y) / 32 % 256)
            }
        }
        let source = RGBImage(width: width, height: height, pixels: pixels)
        let jpeg = try compressJPEG(source, quality: 92)
        let start = Date()
        let decoded = try ImageDecoder().decode(bytes: jpeg, name: "large.jpg")
        let seconds = Date().timeIntervalSince(start)
        #expect(decoded.width == width && decoded.height == height)
        var squared = 0.0
        for i in stride(from: 0, to: pixels.count, by: 7) {
            let d = Double(Int(pixels[i]) - Int(decoded.pixels[i]))
            squared += d * d
        }
        let psnr = 10 * log10(255.0 * 255.0 / (squared / Double(pixels.count / 7)))
        #expect(psnr > 30)
        print("decode 4032x3024 JPEG (\(jpeg.count) bytes): \(String(format: "%.3f", seconds)) s, PSNR \(String(format: "%.1f", psnr)) dB")
    }

    @Test func sniffsFormatNotExtension() throws {
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.golden("images/chelsea.png"))))
        let path = try temporaryFile(named: "actually_png.jpg", contents: png)
        let image = try ImageDecoder().decode(path: path)
        #expect(image.width == 451 && image.height == 300)
    }

    // MARK: errors

    @Test func emptyFileIsTypedError() throws {
        let path = try temporaryFile(named: "empty.png", contents: [])
        #expect(throws: MediaError.emptyFile(file: path)) { try ImageDecoder().decode(path: path) }
        #expect(MediaError.emptyFile(file: path).description.contains(path))
    }

    @Test func missingFileIsUnreadable() {
        do {
            _ = try ImageDecoder().decode(path: "/nonexistent/dir/x.png")
            Issue.record("decoding a missing file succeeded")
        } catch let error as MediaError {
            guard case let .unreadable(file, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file == "/nonexistent/dir/x.png")
            #expect(error.description.hasPrefix("/nonexistent/dir/x.png: cannot read file"))
        } catch {
            Issue.record("untyped error \(error)")
        }
    }

    @Test func fileOverByteLimitIsNotRead() throws {
        let path = FixtureFiles.golden("images/chelsea.png")
        let size = try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let decoder = ImageDecoder(maxFileBytes: 1000)
        #expect(throws: MediaError.fileTooLarge(file: path, bytes: size, limit: 1000)) { try decoder.decode(path: path) }
        #expect(MediaError.fileTooLarge(file: "a.png", bytes: 2000, limit: 1000).description
                == "a.png: file is 2000 bytes, over the limit maxFileBytes = 1000")
    }

    /// Pillow verifies the CRC of every chunk before the image data, but not of IDAT chunks.
    @Test func chunkChecksumsAreCheckedLikePillow() throws {
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.resource("rgb8.png"))))
        let expected = try NpyArray(path: FixtureFiles.resource("rgb8.expected.npy")).bytes
        let chunks = chunkOffsets(png)
        let idat = try #require(chunks.first { $0.type == "IDAT" })
        var badIDATChecksum = png
        badIDATChecksum[idat.crcOffset] ^= 0xFF
        #expect(try ImageDecoder().decode(bytes: badIDATChecksum, name: "idat.png").pixels == expected)

        let gamma = try #require(chunks.first { $0.type == "gAMA" })
        var badGammaChecksum = png
        badGammaChecksum[gamma.crcOffset] ^= 0xFF
        let error = try decodeError(badGammaChecksum, name: "gama.png")
        guard case let .corrupt(file, format, detail) = error else { Issue.record("got \(error)"); return }
        #expect(file == "gama.png" && format == "PNG" && detail.contains("CRC"))
    }

    @Test func unknownFormatIsTypedError() {
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]
        #expect(throws: MediaError.unknownFormat(file: "a.gif", leadingBytes: "47 49 46 38 39 61 01 00")) {
            try ImageDecoder().decode(bytes: gif, name: "a.gif")
        }
    }

    @Test func truncatedPNGIsTypedError() throws {
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.golden("images/chelsea.png"))))
        let error = try decodeError(Array(png.prefix(png.count / 2)), name: "half.png")
        guard case let .truncated(file, format, _) = error else { Issue.record("got \(error)"); return }
        #expect(file == "half.png" && format == "PNG")
        #expect(error.description.hasPrefix("half.png: truncated PNG data"))
        // Cut inside the IHDR chunk.
        let tiny = try decodeError(Array(png.prefix(20)), name: "tiny.png")
        guard case .truncated = tiny else { Issue.record("got \(tiny)"); return }
    }

    @Test func corruptPNGIsTypedError() throws {
        var png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.golden("images/chelsea.png"))))
        // Damage bytes in the middle of the compressed data (the IDAT CRC no longer matches).
        for i in (png.count / 2)..<(png.count / 2 + 64) { png[i] ^= 0x5A }
        let error = try decodeError(png, name: "broken.png")
        guard case let .corrupt(file, format, detail) = error else { Issue.record("got \(error)"); return }
        #expect(file == "broken.png" && format == "PNG")
        #expect(detail.hasPrefix("libpng: "))
        #expect(!error.description.contains("\n"))
    }

    @Test func oversizedPNGHeaderFailsBeforeDecoding() throws {
        // Signature + IHDR claiming 100000 x 100000 RGB, and nothing else: the header check must refuse it
        // before libpng reads further (the missing IDAT would otherwise be reported as truncation).
        var ihdr: [UInt8] = Array("IHDR".utf8)
        ihdr += bigEndian(100_000) + bigEndian(100_000) + [8, 2, 0, 0, 0]
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + bigEndian(13) + ihdr + bigEndian(crc32(ihdr))
        let expected = MediaError.tooManyPixels(file: "bomb.png", width: 100_000, height: 100_000, limit: 40_000_000)
        #expect(throws: expected) { try ImageDecoder().decode(bytes: png, name: "bomb.png") }
        #expect(expected.description == "bomb.png: image is 100000x100000 = 10000000000 pixels, over the limit maxPixels = 40000000")
        // A custom limit applies to real files too.
        #expect(throws: MediaError.tooManyPixels(file: "g.png", width: 512, height: 600, limit: 1000)) {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: FixtureFiles.golden("images/grace_hopper.png"))))
            _ = try ImageDecoder(maxPixels: 1000).decode(bytes: bytes, name: "g.png")
        }
    }

    @Test func oversizedJPEGHeaderFailsBeforeDecoding() throws {
        var jpeg = try compressJPEG(RGBImage(width: 16, height: 16), quality: 90)
        // Patch the SOF0 frame size to 60000 x 60000.
        let sof = try #require((0..<(jpeg.count - 9)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])
        #expect(throws: MediaError.tooManyPixels(file: "big.jpg", width: 60_000, height: 60_000, limit: 40_000_000)) {
            try ImageDecoder().decode(bytes: jpeg, name: "big.jpg")
        }
    }

    @Test func truncatedAndCorruptJPEGAreTypedErrors() throws {
        let source = try ImageDecoder().decode(path: FixtureFiles.golden("images/chelsea.png"))
        let jpeg = try compressJPEG(source, quality: 90)
        let cut = try decodeError(Array(jpeg.prefix(jpeg.count * 6 / 10)), name: "cut.jpg")
        guard case let .truncated(file, format, _) = cut else { Issue.record("got \(cut)"); return }
        #expect(file == "cut.jpg" && format == "JPEG")

        let garbage: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02] + [UInt8](repeating: 0x17, count: 40)
        let bad = try decodeError(garbage, name: "garbage.jpg")
        switch bad {
        case let .corrupt(file, format, _), let .truncated(file, format, _):
            #expect(file == "garbage.jpg" && format == "JPEG")
        default:
            Issue.record("got \(bad)")
        }
    }

    // MARK: helpers

    private func decodeError(_ bytes: [UInt8], name: String) throws -> MediaError {
        do {
            _ = try ImageDecoder().decode(bytes: bytes, name: name)
        } catch let error as MediaError {
            return error
        }
        throw TestFailure.unexpectedSuccess(name)
    }

    enum TestFailure: Error { case unexpectedSuccess(String), codec(String) }

    private func temporaryFile(named name: String, contents: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("MediaTests-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents).write(to: url)
        return url.path
    }

    /// Chunk types and the offsets of their CRC fields.
    private func chunkOffsets(_ png: [UInt8]) -> [(type: String, crcOffset: Int)] {
        var chunks: [(type: String, crcOffset: Int)] = []
        var offset = 8
        while offset + 8 <= png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            let type = String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self)
            chunks.append((type, offset + 8 + length))
            offset += 12 + length
        }
        return chunks
    }

    private func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// Encodes RGB pixels with TurboJPEG (4:4:4, accurate DCT).
    private func compressJPEG(_ image: RGBImage, quality: Int32) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw TestFailure.codec("tjInitCompress") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), 0, Int32(image.height),
                        Int32(TJPF_RGB.rawValue), &buffer, &size, Int32(TJSAMP_444.rawValue), quality, 0)
        }
        defer { tjFree(buffer) }
        guard status == 0, let buffer else { throw TestFailure.codec(String(cString: tjGetErrorStr2(handle))) }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }

    /// Reads a PNG with libpng's simplified API into `format` (independent of the decoder under test).
    private func simplifiedRead(path: String, format: UInt32, channels: Int) throws -> [UInt8] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let begun = bytes.withUnsafeBufferPointer { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw TestFailure.codec("png_image_begin_read_from_memory") }
        image.format = format
        var out = [UInt8](repeating: 0, count: Int(image.width) * Int(image.height) * channels)
        let finished = out.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw TestFailure.codec("png_image_finish_read") }
        return out
    }
}
