"""A citizen's mobile number, checked the same way on the kiosk and the server: 11 digits on a mainland mobile
prefix (13x–19x), and masked (138****1234) wherever it is shown or logged.

    normalise_mobile  the typed text without spaces, dashes or +86; None when left empty; MobileInvalid when wrong.
    is_mobile         whether 11 digits are a mainland mobile number.
    mask_mobile       138****1234: enough to recognise, not enough to call.
    mask_mobiles      every mobile-looking run of digits in a text masked (for log lines).
"""

from __future__ import annotations

import re

from haochaping.errors import MobileInvalid

MOBILE_DIGITS = 11
MOBILE = re.compile(r"^1[3-9]\d{9}$")
MOBILE_INVALID = "手机号格式不正确：应为 11 位数字、以 13–19 开头；也可以不填"
_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def is_mobile(digits: str) -> bool:
    return bool(MOBILE.match(digits or ""))


def normalise_mobile(text: str | None) -> str | None:
    """The number without spaces or dashes (and without +86), None when left empty; MobileInvalid when wrong."""
    digits = re.sub(r"[\s\-]", "", text or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not digits:
        return None
    if not is_mobile(digits):
        raise MobileInvalid(MOBILE_INVALID)
    return digits


def mask_mobile(number: str) -> str:
    """138****1234; anything shorter than 7 characters is hidden entirely."""
    return f"{number[:3]}****{number[-4:]}" if len(number) >= 7 else "****"


def mask_mobiles(text: str) -> str:
    """The text with every stand-alone mobile number in it masked, e.g. for a log line."""
    return _IN_TEXT.sub(r"\1****\2", text)
