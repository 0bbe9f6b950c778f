"""The kiosk's only network module: signed requests to the central server, the worker that drains
the outbox, the configuration pull and the long-poll for server triggers.

Layers, each usable alone:

    SyncClient      one signed request → parsed JSON, or a SyncError (ServerUnavailable: retry;
                    ServerRefused: the server said no); keeps the clock offset to the server.
    plan_acks       pure: which records of a batch the server explicitly acknowledged.
    SyncWorker      background thread: push batches, apply acks, back off with full jitter,
                    pull configuration (ETag, last good copy), report device health.
    TriggerPoller   background thread: long-poll server triggers, hand them to the flow, ack them.
    start_sync      what the app calls; None when the terminal is not enrolled.

The session (anything with ``requests.Session.request``'s signature), the clock and the random
source are arguments, so tests hand in fakes. Nothing here touches Kivy.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode

import requests

from haochaping.chain import RECORD_FIELDS
from haochaping.signing import HEADER_SERVER_TIME, sign_headers
from kiosk.config_cache import ConfigRejected, read_config_cache, validate_config_body, write_config_cache
from kiosk.errors import (
    EnrolmentFailed,
    OutboxError,
    ServerRefused,
    ServerUnavailable,
    SyncError,
    TriggerRefused,
)
from kiosk.identity import DeviceIdentity

log = logging.getLogger("kiosk.sync")

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
    backoff_cap_s: float = 300.0  # … doubling per failure up to this ceiling (full jitter below it)
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
        offset_s: float = 0.0,
        on_offset: Callable[[float], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self.session = session
        self.clock = clock
        self.policy = policy or SyncPolicy()
        self.offset_s = float(offset_s)
        self._on_offset = on_offset
        self._reported_offset = self.offset_s

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
        timeout = (self.policy.connect_timeout_s, wait_s + self.policy.read_timeout_s)
        body = self._json(self._call("GET", "/api/v1/triggers", params={"wait": wait_s}, timeout=timeout))
        triggers = body.get("triggers")
        if not isinstance(triggers, list):
            raise ServerUnavailable("服务器返回的触发列表无法解析")
        return [t for t in triggers if isinstance(t, dict) and t.get("id")]

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
        if self._on_offset and abs(self.offset_s - self._reported_offset) > OFFSET_PERSIST_THRESHOLD_S:
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


# ---------------------------------------------------------------- plan, then apply


def plan_acks(sent_records: list[dict], response: dict) -> list[tuple[str, str]]:
    """The (id, status) pairs the server explicitly acknowledged, for records that were in the batch.

    Pure. Results for ids that were not sent, unknown statuses, malformed entries and repeated ids
    are ignored; a sent record without a result stays pending and is sent again.
    """
    sent = {r["id"] for r in sent_records}
    results = response.get("results") if isinstance(response, dict) else None
    if not isinstance(results, list):
        return []
    plan: dict[str, str] = {}
    for item in results:
        if not isinstance(item, dict):
            continue
        record_id, status = item.get("id"), item.get("status")
        if record_id in sent and status in ACK_STATUSES and record_id not in plan:
            plan[record_id] = status
    return list(plan.items())


def apply_acks(outbox, acks: list[tuple[str, str]], at: datetime) -> None:
    """Mark acknowledged records, one transaction per status (almost always just "stored")."""
    by_status: dict[str, list[str]] = {}
    for record_id, status in acks:
        by_status.setdefault(status, []).append(record_id)
    for status, ids in by_status.items():
        outbox.mark_acknowledged(ids, status, at)


# ---------------------------------------------------------------- the worker


class SyncWorker:
    """Drains the outbox to the server forever on a daemon thread; never raises, never touches the UI.

    ``step()`` does one round (config if due, one batch, status if due) and returns how long to wait;
    tests call it directly. ``wake`` is an Event the app sets after committing a record.
    """

    def __init__(
        self,
        client: SyncClient,
        outbox,
        *,
        data_dir: Path,
        window: str,
        clock: Clock,
        policy: SyncPolicy | None = None,
        rand: Callable[[], float] = random.random,
        on_change: Callable[[str], None] | None = None,
        on_config: Callable[[object], None] | None = None,
    ):
        self.client, self.outbox, self.clock = client, outbox, clock
        self.data_dir, self.window = Path(data_dir), window
        self.policy = policy or SyncPolicy()
        self.rand, self.on_change, self.on_config = rand, on_change, on_config
        self.batch_size = min(self.policy.batch_size, 500)
        self.failures = 0
        self.hold_s = 0.0  # a Retry-After that an early wake must not cut short
        self.status = ""
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        cached = read_config_cache(self.data_dir, window)
        self.etag = cached.etag if cached else None
        self._next_config_s = self._next_status_s = float("-inf")

    # ------------------------------------------------------------ one round

    def step(self) -> float:
        now_s = self.clock().timestamp()
        if now_s >= self._next_config_s:
            self._next_config_s = now_s + self.pull_config()
        delay = self.push_once()
        if now_s >= self._next_status_s and self.failures == 0:
            self._next_status_s = now_s + self.policy.status_every_s
            self._report_status()
        return delay

    def push_once(self) -> float:
        """Send one batch of pending records; returns the seconds to wait before the next round."""
        self.hold_s = 0.0
        batch = self.outbox.pending(self.batch_size)
        if not batch:
            self._set_status("已同步")
            return self.policy.idle_s
        try:
            response = self.client.push(batch)
        except ServerUnavailable as e:
            return self._failed("连接失败", str(e), e.retry_after_s)
        except ServerRefused as e:
            if e.status == 413 and self.batch_size > 1:
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("batch too large (%s); sending %d at a time", e, self.batch_size)
                return 0.0
            return self._failed(f"服务器拒绝：{e}", str(e), None)
        acks = plan_acks(batch, response)
        now = self.clock()
        apply_acks(self.outbox, acks, now)
        if not acks:
            return self._failed("服务器未确认任何记录", "no acknowledgements in the response", None)
        return self._succeeded(now)

    def _succeeded(self, now: datetime) -> float:
        self.failures = 0
        self._keep("last_sync_at", now.astimezone(UTC).isoformat(timespec="seconds"))
        depth = self.outbox.depth()
        self._set_status(f"待同步 {depth} 条" if depth else "已同步")
        if not depth:
            self._checkpoint()
        return 0.0 if depth else self.policy.idle_s

    def _checkpoint(self) -> None:
        """Drained: fold the write-ahead log into the database file (kiosk.upkeep also does it hourly)."""
        checkpoint = getattr(self.outbox, "checkpoint", None)
        if checkpoint is None:
            return
        try:
            checkpoint()
        except OutboxError as e:
            log.warning("WAL checkpoint failed: %s", e)

    def _failed(self, what: str, detail: str, retry_after_s: float | None) -> float:
        self.failures += 1
        delay = backoff_delay(self.failures, self.policy, self.rand)
        if retry_after_s is not None and retry_after_s > delay:
            delay = self.hold_s = retry_after_s
        log.warning("sync failed (%d in a row): %s; next try in %.1f s", self.failures, detail, delay)
        depth = self.outbox.depth()
        self._set_status(f"{what}，{math.ceil(delay)} 秒后重试（待同步 {depth} 条）")
        return delay

    def _set_status(self, text: str) -> None:
        if text == self.status:
            return
        self.status = text
        self._keep("sync_status", text)
        if self.on_change:
            self.on_change(text)

    def _keep(self, key: str, value) -> None:
        """Terminal state for the maintenance screen; a full disk must not stop the worker."""
        try:
            self.outbox.set_state(key, value)
        except OutboxError as e:
            log.warning("could not keep %s: %s", key, e)

    # ------------------------------------------------------------ config and health

    def pull_config(self) -> float:
        """Pull the configuration if it changed; keep the last good copy. Returns when to pull next."""
        try:
            pulled = self.client.pull_config(self.etag)
        except SyncError as e:
            log.info("config pull failed: %s", e)
            return min(self.policy.config_every_s, 60.0)
        if pulled is None:
            return self.policy.config_every_s
        try:
            config = validate_config_body(pulled.body, self.window)
        except ConfigRejected as e:
            log.error("the server sent a configuration that is not valid; keeping the last good copy: %s", e)
            return self.policy.config_every_s
        try:
            write_config_cache(self.data_dir, pulled.version, pulled.etag, pulled.body, self.clock())
        except OSError as e:
            log.error("could not write the configuration cache; keeping the last good copy: %s", e)
            return min(self.policy.config_every_s, 60.0)
        self.etag = pulled.etag
        self._keep("config_version", pulled.version)
        if self.on_config:
            self.on_config(config)
        return self.policy.config_every_s

    def _report_status(self) -> None:
        try:
            self.client.report_status(
                outbox_depth=self.outbox.depth(),
                config_version=str(self.outbox.state("config_version", "") or ""),
                clock_offset_s=round(self.client.offset_s, 3),
                last_sync_at=self.outbox.state("last_sync_at"),
            )
        except SyncError as e:
            log.info("status report failed: %s", e)

    # ------------------------------------------------------------ the thread

    def start(self) -> SyncWorker:
        self._thread = threading.Thread(target=self._run, name="hcp-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception as e:  # the worker must outlive any surprise; it retries with backoff
                log.exception("sync round failed")
                delay = self._failed_safely(repr(e))
            self._wait(delay)

    def _failed_safely(self, detail: str) -> float:
        try:
            return self._failed("同步出错", detail, None)
        except Exception:
            log.exception("could not even record the failure")
            self.failures += 1
            return backoff_delay(self.failures, self.policy, self.rand)

    def _wait(self, delay: float) -> None:
        if delay <= 0:
            return
        if self.hold_s > 0 and self._stop.wait(self.hold_s):
            return
        if delay > self.hold_s and self.wake.wait(delay - self.hold_s):
            self.wake.clear()


# ---------------------------------------------------------------- server triggers


class TriggerPoller:
    """Long-polls the server for case-system prompts and hands each to the flow, then acks it.

    A trigger the flow refused is acked with the flow's message. Outcomes are remembered, so a
    trigger delivered again (its ack was lost) is acked again without prompting twice.
    """

    REMEMBER = 1000
    BACKOFF_CAP_S = 30.0  # prompts matter now: come back soon after the network does

    def __init__(
        self,
        client: SyncClient,
        submit: Callable[[object], object],
        *,
        policy: SyncPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ):
        self.client, self.submit = client, submit
        policy = policy or SyncPolicy()
        self.policy = replace(policy, backoff_cap_s=min(policy.backoff_cap_s, self.BACKOFF_CAP_S))
        self.rand = rand
        self.failures = 0
        self.outcomes: OrderedDict[str, str | None] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> float:
        """One long-poll; returns the seconds to wait before the next."""
        try:
            triggers = self.client.poll_triggers(self.policy.trigger_wait_s)
            if triggers:
                ids, refused = self.hand_over(triggers)
                self.client.ack_triggers(ids, refused)
        except SyncError as e:
            self.failures += 1
            delay = backoff_delay(self.failures, self.policy, self.rand)
            retry_after = getattr(e, "retry_after_s", None)
            log.info("trigger poll failed: %s", e)
            return max(delay, retry_after or 0.0)
        self.failures = 0
        return 0.0

    def hand_over(self, triggers: list[dict]) -> tuple[list[str], dict[str, str]]:
        """Give each new trigger to the flow; the ids to ack and the refusal messages."""
        ids, refused = [], {}
        for trigger in triggers:
            trigger_id = str(trigger["id"])
            if trigger_id not in self.outcomes:
                self._remember(trigger_id, self._submit_one(trigger))
            ids.append(trigger_id)
            if self.outcomes[trigger_id] is not None:
                refused[trigger_id] = self.outcomes[trigger_id]
        return ids, refused

    def _submit_one(self, trigger: dict) -> str | None:
        from kiosk.flow import Trigger

        case_no, matter = trigger.get("case_no"), trigger.get("matter_code")
        if not isinstance(case_no, str) or not (matter is None or isinstance(matter, str)):
            return "触发数据不完整：缺少办件编号"
        try:
            self.submit(Trigger(case_no, matter, source="server"))
        except TriggerRefused as e:
            return str(e)
        except Exception:
            log.exception("the flow failed on a server trigger")
            return "评价器内部错误，未能发起评价"
        return None

    def _remember(self, trigger_id: str, outcome: str | None) -> None:
        self.outcomes[trigger_id] = outcome
        while len(self.outcomes) > self.REMEMBER:
            self.outcomes.popitem(last=False)

    def start(self) -> TriggerPoller:
        self._thread = threading.Thread(target=self._run, name="hcp-triggers", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.poll_once()
            except Exception:
                log.exception("trigger poll round failed")
                delay = self.policy.backoff_cap_s / 10
            if delay > 0:
                self._stop.wait(delay)


# ---------------------------------------------------------------- wiring


@dataclass
class SyncHandle:
    """What ``start_sync`` gives the app: ``wake()`` after committing a record, ``stop()`` at exit."""

    worker: SyncWorker
    poller: TriggerPoller

    def wake(self) -> None:
        self.worker.wake.set()

    def stop(self) -> None:
        self.poller.stop()
        self.worker.stop()


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = f"hcp-kiosk/{APP_VERSION}"
    return session


def server_url_for(settings, identity: DeviceIdentity) -> str | None:
    """The server this terminal syncs with: the one that enrolled it, else ``server_url`` in kiosk.toml."""
    return identity.server_url or getattr(settings, "server_url", None)


def start_sync(
    settings,
    identity: DeviceIdentity,
    outbox,
    submit: Callable[[object], object],
    *,
    clock: Clock | None = None,
    policy: SyncPolicy | None = None,
    session_factory: Callable[[], object] = new_session,
    on_change: Callable[[str], None] | None = None,
    on_config: Callable[[object], None] | None = None,
) -> SyncHandle | None:
    """Start the sync worker and the trigger poller; None when this terminal is not enrolled."""
    url = server_url_for(settings, identity)
    if not identity.enrolled or not url:
        return None
    clock = clock or (lambda: datetime.now(UTC))
    policy = policy or SyncPolicy()
    offset = float(outbox.state("clock_offset_s", 0.0) or 0.0)

    def keep_offset(value: float) -> None:
        outbox.set_state("clock_offset_s", round(value, 3))

    def client(on_offset=None) -> SyncClient:
        return SyncClient(url, identity, session_factory(), clock, policy=policy, offset_s=offset, on_offset=on_offset)

    worker = SyncWorker(
        client(keep_offset),
        outbox,
        data_dir=settings.data_dir,
        window=settings.window,
        clock=clock,
        policy=policy,
        on_change=on_change,
        on_config=on_config,
    )
    poller = TriggerPoller(client(), submit, policy=policy)
    return SyncHandle(worker.start(), poller.start())


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
