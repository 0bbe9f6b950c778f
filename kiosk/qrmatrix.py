"""The QR code of a rating link as a plain matrix of dark modules, quiet zone included. Pure; no drawing."""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of light border the QR specification asks for


def qr_matrix(text: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """Rows of modules (True = dark) for ``text`` at error correction M, smallest version that fits."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_version(matrix: list[list[bool]], border: int = QUIET_ZONE) -> int:
    """The QR version a matrix was drawn at (21 modules for version 1, +4 per version)."""
    return (len(matrix) - 2 * border - 17) // 4
