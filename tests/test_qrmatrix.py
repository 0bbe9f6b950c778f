"""The QR matrix the kiosk draws: right size for its version, finder patterns, reads back the link."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image

from kiosk.qrmatrix import QUIET_ZONE, qr_matrix, qr_version

URL = "http://127.0.0.1:8000/r/eyJ2IjoxLCJkIjoibG9jYWwtYWJjIiwiYyI6IjIwMjYxMTI3MDAwMSIsInQiOjE3OTk5OTk5OTl9.c2lnbmF0dXJlMTIzNDU2"


def finder_at(matrix: list[list[bool]], top: int, left: int) -> bool:
    """A 7×7 finder pattern: dark ring, light ring, dark 3×3 core."""
    for r in range(7):
        for c in range(7):
            ring = max(abs(r - 3), abs(c - 3))
            expected = ring != 2
            if matrix[top + r][left + c] is not expected:
                return False
    return True


def render(matrix: list[list[bool]], scale: int = 6) -> Image.Image:
    size = len(matrix)
    img = Image.new("L", (size, size), 255)
    img.putdata([0 if dark else 255 for row in matrix for dark in row])
    return img.resize((size * scale, size * scale), Image.NEAREST)


@pytest.mark.parametrize(
    "text, version",
    [("A", 1), ("http://x/r/" + "a" * 30, 3), (URL, 7)],
)
def test_size_matches_the_version_plus_quiet_zone(text, version):
    matrix = qr_matrix(text)
    assert len(matrix) == 17 + 4 * version + 2 * QUIET_ZONE
    assert all(len(row) == len(matrix) for row in matrix)
    assert qr_version(matrix) == version


def test_finder_patterns_sit_in_three_corners_inside_a_light_quiet_zone():
    matrix = qr_matrix(URL)
    n, q = len(matrix), QUIET_ZONE
    assert finder_at(matrix, q, q)
    assert finder_at(matrix, q, n - q - 7)
    assert finder_at(matrix, n - q - 7, q)
    assert not finder_at(matrix, n - q - 7, n - q - 7)
    border = matrix[:q] + matrix[-q:] + [row[:q] + row[-q:] for row in matrix]
    assert not any(any(row) for row in border)


def test_a_rendered_matrix_reads_back_the_rating_link():
    found = zxingcpp.read_barcodes(render(qr_matrix(URL)))
    assert [r.text for r in found] == [URL]
    assert found[0].ec_level == "M"


def test_same_text_same_matrix_and_no_border_on_request():
    assert qr_matrix(URL) == qr_matrix(URL)
    bare = qr_matrix("A", border=0)
    assert len(bare) == 21 and finder_at(bare, 0, 0)
