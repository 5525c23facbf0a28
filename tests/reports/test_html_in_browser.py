"""The HTML report as a browser renders it: headless Chromium takes a screenshot."""

import struct
import subprocess
import zlib

import pytest

from envbuilder.reports import HTML_FILE, write_reports
from tests.reports.sample import sample_run
from tests.support.tools import installed_tool

pytestmark = pytest.mark.slow


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, bytes per pixel and decoded rows (filters undone) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour_type in (2, 6)
    pixel = 3 if colour_type == 2 else 4
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    raw, stride = zlib.decompress(b"".join(chunks)), width * pixel
    rows, previous = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - pixel] if x >= pixel else 0
            up, up_left = previous[x], previous[x - pixel] if x >= pixel else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                nearest = min(
                    (abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - up_left), 2, up_left)
                )
                line[x] = (line[x] + nearest[2]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, pixel, rows


def count_colour(rows: list[bytes], pixel: int, rgb: str) -> int:
    target = bytes.fromhex(rgb)
    return sum(row[x : x + 3] == target for row in rows for x in range(0, len(row), pixel))


def test_the_page_renders_in_headless_chromium_with_its_timeline(tmp_path):
    chromium = installed_tool("chromium", package="chromium", part="browser")
    write_reports(tmp_path, sample_run())
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={screenshot}",
            "--window-size=1200,900",
            (tmp_path / HTML_FILE).as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    width, pixel, rows = png_pixels(screenshot.read_bytes())
    assert (width, len(rows)) == (1200, 900)
    # The bars are filled in the report's status colours: a blank or unstyled page has none of them.
    assert count_colour(rows, pixel, "1a7f37") > 5000, "the passed phases and checks are drawn as green bars"
    assert count_colour(rows, pixel, "cf222e") > 1000, "the failed phase and check are drawn as red bars"
