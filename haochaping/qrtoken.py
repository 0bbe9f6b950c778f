"""The QR token: a case's rating link signed with the device secret, verifiable by the server
without having heard of the case (device, case, issue time; HMAC-SHA256 truncated to 128 bits)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from haochaping.errors import TokenExpired, TokenForged, TokenMalformed

_SIG_BYTES = 16
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class QrClaims:
    device_id: str
    case_no: str
    issued_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:_SIG_BYTES])


def make_token(device_id: str, case_no: str, issued_at: datetime, secret: bytes) -> str:
    """Return ``<payload>.<signature>``, both base64url without padding."""
    claims = {"v": 1, "d": device_id, "c": case_no, "t": int(issued_at.timestamp())}
    body = _b64(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    return f"{body}.{_sign(secret, body)}"


def read_claims(token: str) -> QrClaims:
    """Parse a token without checking its signature (to find which device's secret to use)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenMalformed("二维码链接格式不正确")
    body, _sig = token.split(".")
    try:
        raw = json.loads(_unb64(body))
        if raw.get("v") != 1:
            raise ValueError("version")
        return QrClaims(
            device_id=str(raw["d"]),
            case_no=str(raw["c"]),
            issued_at=datetime.fromtimestamp(int(raw["t"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, OSError):  # OSError: bad time_t
        raise TokenMalformed("二维码链接格式不正确") from None


def verify_token(
    token: str,
    secret_for: Callable[[str], bytes | None],
    now: datetime,
    valid_for: timedelta,
) -> QrClaims:
    """Return the claims of a genuine, unexpired token; raise a TokenError otherwise.

    ``secret_for(device_id)`` gives the device's secret, or None for an unknown device.
    """
    claims = read_claims(token)
    secret = secret_for(claims.device_id)
    body, sig = token.split(".")
    if secret is None or not hmac.compare_digest(sig, _sign(secret, body)):
        raise TokenForged("二维码无效：签名不符")
    if now - claims.issued_at > valid_for:
        raise TokenExpired(f"二维码已过期（有效期 {valid_for.days} 天）")
    if claims.issued_at - now > timedelta(minutes=10):
        raise TokenMalformed("二维码的签发时间在未来")
    return claims


def rating_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/r/{token}"
