"""The one module of the server that makes outgoing HTTP requests (``urllib``, no extra dependency): the webhook's
deliveries and the upload to the provincial platform both POST through :func:`post`."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

MAX_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int | None  # None when nothing answered
    body: bytes = b""
    error: str = ""  # short text for a failure, empty on 2xx


def post(url: str, body: bytes, headers: dict, timeout_s: float) -> Answer:
    """POST ``body``; a refused connection, a timeout or an HTTP error status comes back as an Answer too."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 - the admin's URL
            return Answer(answer.status, answer.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as e:
        return Answer(e.code, _read(e), f"HTTP {e.code} {e.reason}")
    except (urllib.error.URLError, OSError) as e:
        return Answer(None, b"", f"无法连接：{getattr(e, 'reason', e)}")


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(MAX_ANSWER_BYTES)
    except OSError:
        return b""
