#!/usr/bin/env python3
"""Draws the web app's PNG icons (Public/icons/) from the shapes of Public/favicon.svg.

Made once and committed as source assets (Chromium wants PNG icons of 192 and 512 px to offer
installing the app); run again only when the logo changes:

    python3 scripts/web-icons.py

No image library is needed: the shapes (a rounded square and three round-capped bars, in the
favicon's 32-unit grid) are rasterised here with 4x4 supersampling and written with zlib.
`maskable-512.png` fills the whole square and keeps the bars inside the central 80 % safe zone.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLUE = (0x1D, 0x5B, 0xD8)
WHITE = (0xFF, 0xFF, 0xFF)
OUT = Path(__file__).resolve().parent.parent / "Public" / "icons"


def rounded_rect(x: float, y: float, radius: float) -> bool:
    """Inside the 32x32 square with corner radius `radius`."""
    if not (0 <= x <= 32 and 0 <= y <= 32):
        return False
    cx = min(max(x, radius), 32 - radius)
    cy = min(max(y, radius), 32 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius


def on_bar(x: float, y: float, bars: list[tuple[float, float, float]], half: float) -> bool:
    """Inside one of the horizontal round-capped strokes (x0, x1, y) of half-width `half`."""
    for x0, x1, by in bars:
        cx = min(max(x, x0), x1)
        if (x - cx) ** 2 + (y - by) ** 2 <= half * half:
            return True
    return False


def draw(size: int, radius: float, bars: list[tuple[float, float, float]], half: float) -> bytes:
    samples = 4
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            blue = white = 0
            for sy in range(samples):
                for sx in range(samples):
                    x = (px + (sx + 0.5) / samples) * 32 / size
                    y = (py + (sy + 0.5) / samples) * 32 / size
                    if not rounded_rect(x, y, radius):
                        continue
                    if on_bar(x, y, bars, half):
                        white += 1
                    else:
                        blue += 1
            total = samples * samples
            alpha = blue + white
            if alpha == 0:
                row += bytes(4)
                continue
            rgb = [round((b * blue + w * white) / alpha) for b, w in zip(BLUE, WHITE)]
            row += bytes(rgb) + bytes([round(255 * alpha / total)])
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    logo = [(9, 23, 10), (9, 19, 16), (9, 23, 22)]  # favicon.svg: M9 10h14 M9 16h10 M9 22h14, width 3
    safe = [(11.5, 20.5, 12), (11.5, 18, 16), (11.5, 20.5, 20)]  # inside the maskable safe zone
    (OUT / "icon-192.png").write_bytes(draw(192, 8, logo, 1.5))
    (OUT / "icon-512.png").write_bytes(draw(512, 8, logo, 1.5))
    (OUT / "maskable-512.png").write_bytes(draw(512, 0.001, safe, 1.0))


if __name__ == "__main__":
    main()
