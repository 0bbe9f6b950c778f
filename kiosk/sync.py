"""The kiosk's only network module: signed requests to the central server (push a batch, pull the
configuration, report health, long-poll and acknowledge triggers) and the enrolment exchange.

    SyncClient      one signed request → parsed JSON, or a SyncError (ServerUnavailable: retry;
                    ServerRefused: the server said no); keeps the clock offset to the server.
    SyncPolicy      batch size, timeouts and backoff, shared with the background threads of
                    ``kiosk.syncworker`` (the outbox worker and the trigger poller) that use this client.

The session (anything with ``requests.Session.request``'s signature) and the clock are arguments, so
tests hand in fakes. Nothing here touches Kivy.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

import requests

from haochaping.chain import RECORD_FIELDS
from haochaping.signing import HEADER_SERVER_TIME, sign_headers
from kiosk.errors import (
    EnrolmentFailed,
    ServerRefused,
    ServerUnavailable,
)
from kiosk.identity import DeviceIdentity

log = logging.getLogger(__name__)

ACK_STATUSES = ("stored", "duplicate", "conflict")
OFFSET_RETRY_THRESHOLD_S = 1.0  # a 401 is retried once if the server's time moved our offset this much
OFFSET_PERSIST_THRESHOLD_S = 0.5
APP_VERSION = "0.1.0"

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SyncPolicy:
    """How the terminal talks to the server; the defaults are the production values."""

    batch_size: int = 200  # records per push (the server accepts at most 500 and 1 MiB)
    backoff_base_s: float = 1.0  # first retry waits up to this long …
    backoff_cap_s: float = 60.0  # … doubling per failure up to this ceiling (full jitter below it): after an
    # outage a queued rating waits at most a minute (and not at all once another request gets through)
    retry_after_max_s: float = 3600.0  # a server's Retry-After is honoured up to this long
    idle_s: float = 10.0  # look at the outbox this often even when nobody wakes the worker
    config_every_s: float = 300.0  # pull the configuration this often
    status_every_s: float = 60.0  # report device health this often
    trigger_wait_s: int = 25  # long-poll wait (the server allows at most 30)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0


def backoff_delay(failures: int, policy: SyncPolicy, rand: Callable[[], float]) -> float:
    """Full jitter: uniform in [0, min(cap, base · 2^(failures − 1))]; 0 before any failure."""
    if failures <= 0:
        return 0.0
    ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** min(failures - 1, 40))
    return rand() * ceiling


def parse_retry_after(value: str | None, now: datetime, limit_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), clamped to [0, limit]."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), limit_s)


# ---------------------------------------------------------------- the client


@dataclass(frozen=True)
class ConfigPull:
    """A configuration the server sent (not yet validated)."""

    version: str
    etag: str | None
    body: dict


class SyncClient:
    """Signed JSON requests to one server for one device, on a server-corrected clock."""

    def __init__(
        self,
        base_url: str,
        identity: DeviceIdentity,
        session,
        clock: Clock,
        *,
        policy: SyncPolicy | None = None,
        offset_s: float | None = None,
        on_offset: Callable[[float], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self.session = session
        self.clock = clock
        self.policy = policy or SyncPolicy()
        self.offset_s = float(offset_s or 0.0)
        self._on_offset = on_offset
        self._reported_offset = None if offset_s is None else self.offset_s  # None: the first one learned is kept

    def server_now_s(self) -> float:
        """Unix seconds on the server's clock, as far as this terminal knows it."""
        return self.clock().timestamp() + self.offset_s

    # ------------------------------------------------------------ the contract

    def push(self, records: list[dict]) -> dict:
        """POST a batch of outbox records; returns the server's body (``results`` per record)."""
        payload = {"records": [{k: r.get(k) for k in RECORD_FIELDS} for r in records]}
        return self._json(self._call("POST", "/api/v1/records", payload))

    def pull_config(self, etag: str | None = None) -> ConfigPull | None:
        """GET the hall configuration; None when it has not changed since ``etag`` (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._call("GET", "/api/v1/config", headers=headers)
        if response.status_code == 304:
            return None
        body = self._json(response)
        return ConfigPull(str(body.get("version", "")), response.headers.get("ETag"), body)

    def poll_triggers(self, wait_s: int) -> list[dict]:
        """Long-poll the prompts the case system sent through the server for this window."""
        return self.poll(wait_s)[0]

    def poll(self, wait_s: int) -> tuple[list[dict], list[str]]:
        """Long-poll: the case system's prompts for this window, and the case on screen if it was rated by phone."""
        timeout = (self.policy.connect_timeout_s, wait_s + self.policy.read_timeout_s)
        body = self._json(self._call("GET", "/api/v1/triggers", params={"wait": wait_s}, timeout=timeout))
        triggers = body.get("triggers")
        if not isinstance(triggers, list):
            raise ServerUnavailable("服务器返回的触发列表无法解析")
        rated = body.get("phone_rated") or []
        rated = [c for c in rated if isinstance(c, str)] if isinstance(rated, list) else []
        return [t for t in triggers if isinstance(t, dict) and t.get("id")], rated

    def ack_triggers(self, ids: list[str], refused: dict[str, str] | None = None) -> None:
        payload: dict = {"ids": list(ids)}
        if refused:
            payload["refused"] = dict(refused)
        self._json(self._call("POST", "/api/v1/triggers/ack", payload))

    def report_status(
        self, *, outbox_depth: int, config_version: str, clock_offset_s: float, last_sync_at: str | None
    ) -> None:
        payload = {
            "outbox_depth": outbox_depth,
            "config_version": config_version,
            "clock_offset_s": clock_offset_s,
            "last_sync_at": last_sync_at,
            "app_version": APP_VERSION,
        }
        self._json(self._call("POST", "/api/v1/status", payload))

    # ------------------------------------------------------------ one request

    def _call(self, method: str, path: str, payload=None, *, params=None, headers=None, timeout=None):
        """Send, correcting the clock from the answer; a 401 that came with a clock correction is retried once."""
        path_q = path + ("?" + urlencode(params) if params else "")
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        for attempt in (1, 2):
            before = self.offset_s
            response = self._send(method, path_q, body, headers or {}, timeout)
            corrected = abs(self.offset_s - before) > OFFSET_RETRY_THRESHOLD_S
            if response.status_code == 401 and attempt == 1 and corrected:
                log.info("401 after a clock correction of %.1f s: retrying once", self.offset_s - before)
                continue
            return _check_status(response, self.clock(), self.policy)
        raise AssertionError("unreachable")

    def _send(self, method: str, path_q: str, body: bytes, headers: dict, timeout):
        signed = sign_headers(self.identity.device_id, self.identity.secret, method, path_q, body, self.server_now_s())
        all_headers = {"Content-Type": "application/json", **headers, **signed}
        sent_at = self.clock().timestamp()
        try:
            response = self.session.request(
                method,
                self.base_url + path_q,
                data=body if method != "GET" else None,
                headers=all_headers,
                timeout=timeout or (self.policy.connect_timeout_s, self.policy.read_timeout_s),
            )
        except requests.Timeout as e:
            raise ServerUnavailable(f"服务器响应超时：{type(e).__name__}") from e
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as e:
            raise ServerUnavailable(f"服务器响应不完整：{type(e).__name__}") from e
        except requests.RequestException as e:
            raise ServerUnavailable(f"无法连接服务器：{type(e).__name__}") from e
        self._learn_offset(response, sent_at, self.clock().timestamp())
        return response

    def _learn_offset(self, response, sent_at: float, received_at: float) -> None:
        """Offset = server time − the local midpoint of the request."""
        try:
            server_time = float(response.headers.get(HEADER_SERVER_TIME))
        except (TypeError, ValueError):
            return
        if not math.isfinite(server_time):
            return
        self.offset_s = server_time - (sent_at + received_at) / 2
        known = self._reported_offset
        if self._on_offset and (known is None or abs(self.offset_s - known) > OFFSET_PERSIST_THRESHOLD_S):
            self._reported_offset = self.offset_s
            self._on_offset(self.offset_s)

    @staticmethod
    def _json(response) -> dict:
        try:
            body = response.json()
        except ValueError as e:  # requests.JSONDecodeError and the like: a truncated or garbled body
            raise ServerUnavailable("服务器响应不完整或无法解析") from e
        if not isinstance(body, dict):
            raise ServerUnavailable("服务器响应不完整或无法解析")
        return body


def _check_status(response, now: datetime, policy: SyncPolicy):
    """Pass 2xx and 304 through; 429, 5xx and anything odd → ServerUnavailable; other 4xx → ServerRefused."""
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return response
    if status == 429 or status >= 500 or status < 400:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now, policy.retry_after_max_s)
        raise ServerUnavailable(f"服务器暂时不可用（HTTP {status}）", retry_after)
    raise ServerRefused(_server_error_text(response), status)


def _server_error_text(response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return f"{error}（HTTP {response.status_code}）" if error else f"HTTP {response.status_code}"


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = f"hcp-kiosk/{APP_VERSION}"
    return session


# ---------------------------------------------------------------- enrolment


def exchange_enrolment_code(base_url: str, code: str, session, timeout_s: float = 15.0) -> dict:
    """POST the one-time code (the request is unsigned: the code is the credential); the server's answer."""
    url = base_url.rstrip("/") + "/api/v1/enroll"
    try:
        response = session.request(
            "POST",
            url,
            data=json.dumps({"code": code}).encode(),
            headers={"Content-Type": "application/json"},
            timeout=timeout_s,
        )
    except requests.RequestException as e:
        raise EnrolmentFailed(f"无法连接服务器 {base_url}：{type(e).__name__}") from e
    if response.status_code != 200:
        raise EnrolmentFailed(f"登记失败：{_server_error_text(response)}")
    try:
        body = response.json()
        secret = bytes.fromhex(body["secret"])
        device_id, window = str(body["device_id"]), str(body["window"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise EnrolmentFailed("登记失败：服务器的应答无法解析") from e
    if len(secret) < 16 or not device_id:
        raise EnrolmentFailed("登记失败：服务器发放的设备密钥无效")
    return {"device_id": device_id, "secret": secret, "window": window, "server_time": body.get("server_time")}
