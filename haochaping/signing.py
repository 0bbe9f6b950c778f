"""Request signing between a terminal and the server, shared by both sides.

A device signs every request with its own secret over
``METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n sha256(body)``; the server checks the
signature, refuses timestamps outside the allowed skew and nonces it has seen before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER_DEVICE = "X-HCP-Device"
HEADER_TIMESTAMP = "X-HCP-Timestamp"
HEADER_NONCE = "X-HCP-Nonce"
HEADER_SIGNATURE = "X-HCP-Signature"
HEADER_SERVER_TIME = "X-HCP-Server-Time"

MAX_SKEW_S = 300


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, digest]).encode()


def signature(secret: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret, string_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def sign_headers(device_id: str, secret: bytes, method: str, path: str, body: bytes, now_s: float) -> dict[str, str]:
    """The headers a device adds to one request; ``now_s`` is its server-corrected clock."""
    timestamp, nonce = str(int(now_s)), secrets.token_hex(16)
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, method, path, timestamp, nonce, body),
    }


def signature_matches(
    secret: bytes, given: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bool:
    expected = signature(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, given or "")
