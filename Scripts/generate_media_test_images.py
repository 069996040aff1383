#!/usr/bin/env python3
"""Writes the small decoder test images in Tests/MediaTests/Resources and, next to each, the RGB bytes Pillow
returns for `Image.open(path).convert("RGB")` (`<name>.expected.npy`, uint8 [H, W, 3]).

PNGs are written by the tiny encoder below (every colour type and bit depth, Adam7, tRNS, PLTE) so that the
inputs do not depend on Pillow's encoder; JPEGs are written by Pillow. Needs Pillow and NumPy:
    python3 -m venv /tmp/pil && /tmp/pil/bin/pip install pillow numpy
    /tmp/pil/bin/python Scripts/generate_media_test_images.py
The committed files were made with Pillow 13.0.0 (the fixture's reference version).
"""
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image

out_dir = pathlib.Path(__file__).resolve().parent.parent / "Tests/MediaTests/Resources"
out_dir.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20240611)
W, H = 13, 9


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """One filter-0 scanline for samples (1-D uint array) at the given bit depth."""
    if depth == 16:
        return b"\x00" + samples.astype(">u2").tobytes()
    if depth == 8:
        return b"\x00" + samples.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    out = bytearray()
    for start in range(0, len(samples), per_byte):
        byte = 0
        group = samples[start:start + per_byte]
        for k in range(per_byte):
            value = int(group[k]) if k < len(group) else 0
            byte |= value << (8 - depth * (k + 1))
        out.append(byte)
    return b"\x00" + bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, pixels, depth, color_type, interlace=False, extra_chunks=()):
    """pixels: uint array [H, W, channels]."""
    h, w, _ = pixels.shape
    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = pixels[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for row in sub:
                raw += pack_row(row.reshape(-1), depth)
    else:
        for row in pixels:
            raw += pack_row(row.reshape(-1), depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, payload in extra_chunks:
        data += chunk(kind, payload)
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    path = out_dir / f"{name}.png"
    path.write_bytes(data)
    return path


def expect(path):
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    np.save(out_dir / (path.stem + ".expected.npy"), rgb)
    return rgb


def samples(maximum, channels):
    return rng.integers(0, maximum + 1, size=(H, W, channels))


gamma = (b"gAMA", struct.pack(">I", 100000))  # gamma 1.0: must be ignored, as Pillow ignores it
for depth in (1, 2, 4, 8):
    expect(write_png(f"gray{depth}", samples(2**depth - 1, 1), depth, 0))
gray16 = samples(65535, 1)
gray16[0, :5, 0] = [0, 1, 200, 255, 256]  # Pillow's I;16 -> RGB clips at 255
expect(write_png("gray16", gray16, 16, 0))
expect(write_png("gray8_trns", samples(255, 1), 8, 0, extra_chunks=[(b"tRNS", struct.pack(">H", 7))]))
expect(write_png("rgb8", samples(255, 3), 8, 2, extra_chunks=[gamma]))
expect(write_png("rgb16", samples(65535, 3), 16, 2))
expect(write_png("rgba8", samples(255, 4), 8, 6))
expect(write_png("rgba16", samples(65535, 4), 16, 6))
expect(write_png("la8", samples(255, 2), 8, 4))
expect(write_png("la16", samples(65535, 2), 16, 4))
expect(write_png("rgb8_interlaced", samples(255, 3), 8, 2, interlace=True))
expect(write_png("gray4_interlaced", samples(15, 1), 4, 0, interlace=True))
expect(write_png("rgba16_interlaced", samples(65535, 4), 16, 6, interlace=True))
palette = rng.integers(0, 256, size=(16, 3)).astype(np.uint8)
trns = bytes(rng.integers(0, 256, size=10).astype(np.uint8))
expect(write_png("palette8_trns", samples(15, 1), 8, 3,
                 extra_chunks=[(b"PLTE", palette.tobytes()), (b"tRNS", trns)]))
expect(write_png("palette4", samples(15, 1), 4, 3, extra_chunks=[(b"PLTE", palette.tobytes())]))
expect(write_png("palette1_interlaced", samples(1, 1), 1, 3, interlace=True,
                 extra_chunks=[(b"PLTE", palette[:2].tobytes())]))
# Indices past the PLTE entries: Pillow gives black.
expect(write_png("palette_out_of_range", np.array([[[0], [1], [2], [5], [200]]]), 8, 3,
                 extra_chunks=[(b"PLTE", bytes([10, 20, 30, 40, 50, 60, 70, 80, 90]))]))

# JPEGs written by Pillow (libjpeg-turbo): YCbCr 4:2:0, grayscale, CMYK (Adobe APP14, Pillow's inverted convention).
smooth = np.zeros((24, 40, 3), np.uint8)
yy, xx = np.mgrid[0:24, 0:40]
smooth[..., 0] = (xx * 6) % 256
smooth[..., 1] = (yy * 10) % 256
smooth[..., 2] = ((xx + yy) * 4) % 256
Image.fromarray(smooth).save(out_dir / "ycc420.jpg", quality=90)
expect(out_dir / "ycc420.jpg")
Image.fromarray(smooth[..., 1]).save(out_dir / "gray.jpg", quality=90)
expect(out_dir / "gray.jpg")
cmyk = np.concatenate([smooth, ((xx * 3) % 256)[..., None].astype(np.uint8)], axis=2)
Image.fromarray(cmyk, mode="CMYK").save(out_dir / "cmyk.jpg", quality=90)
expect(out_dir / "cmyk.jpg")

# Resize cases around Pillow 13's pass-order rule (vertical first iff the height shrinks by more than twice
# as many pixels as the width), including exact ties, from a 37x29 RGB source.
source = rng.integers(0, 256, size=(29, 37, 3)).astype(np.uint8)
source_path = write_png("resize_source", source, 8, 2)
with Image.open(source_path) as image:
    for w, h in [(30, 15), (30, 14), (20, 5), (80, 10), (10, 80), (100, 100), (36, 28), (37, 12), (12, 29), (5, 3)]:
        np.save(out_dir / f"resize_source_{w}x{h}.expected.npy", np.asarray(image.resize((w, h))))
