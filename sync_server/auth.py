"""Device request authentication: signature over method, path, timestamp, nonce and body digest; bounded clock
skew; nonces remembered in the database (so a replay is refused by every server process); revoked devices refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from haochaping.signing import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_SKEW_S,
    signature_matches,
)
from sync_server.db import Store
from sync_server.devices import Device, get_device
from sync_server.errors import (
    NonceReplayed,
    SignatureInvalid,
    SignatureMissing,
    StaleRequest,
    UnknownDevice,
)
from sync_server.storage import devices as stored
from sync_server.storage.schema import utc_iso

NONCE_MAX_CHARS = 128


def authenticate(
    store: Store, method: str, path: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> Device:
    """Return the signing device, or raise an ``Unauthorized`` subclass; a refused request stores nothing."""
    device_id, timestamp, nonce, given = (
        headers.get(h) for h in (HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
    )
    if not (device_id and timestamp and nonce and given) or len(nonce) > NONCE_MAX_CHARS:
        raise SignatureMissing("请求未签名：缺少设备签名信息")
    now_s = now.timestamp()
    _check_skew(timestamp, now_s)
    with store.write() as conn:
        device = get_device(conn, device_id)
        if device is None or not device.active:
            raise UnknownDevice("设备未登记或已被停用")
        if not signature_matches(device.secret, given, method, path, timestamp, nonce, body):
            raise SignatureInvalid("签名不符，请求被拒绝")
        _remember_nonce(store, conn, device_id, nonce, now_s)
        stored.mark_seen(conn, device_id, utc_iso(now))
    return device


def _check_skew(timestamp: str, now_s: float) -> None:
    try:
        skew = abs(float(timestamp) - now_s)
    except ValueError:
        raise SignatureMissing("请求时间戳格式不正确") from None
    if not skew <= MAX_SKEW_S:  # also refuses NaN
        raise StaleRequest(f"请求时间与服务器相差过大（允许 {MAX_SKEW_S} 秒），请校准时钟后重试")


def _remember_nonce(store: Store, conn, device_id: str, nonce: str, now_s: float) -> None:
    """Insert the nonce; if it is already there the request is a replay. Old nonces are pruned."""
    if not stored.remember_nonce(store, conn, device_id, nonce, now_s, keep_s=2 * MAX_SKEW_S):
        raise NonceReplayed("重复的请求（随机数已使用），请求被拒绝")
