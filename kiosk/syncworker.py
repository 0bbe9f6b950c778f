"""The kiosk's sync worker and trigger poller: background threads that drain the outbox and long-poll the
server's triggers through ``kiosk.sync.SyncClient`` (the only module that touches the network).

    plan_acks       pure: which records of a batch the server explicitly acknowledged.
    plan_refusal    pure: after a refused batch, how to find out whether an optional record (a contact) is the cause.
    SyncWorker      background thread: push batches, apply acks, back off with full jitter,
                    pull configuration (ETag, last good copy), report device health.
    TriggerPoller   background thread: long-poll server triggers, hand them to the flow, ack them.
    start_sync      what the app calls; None when the terminal is not enrolled.

The clock and the random source are arguments, so tests hand in fakes. Nothing here touches Kivy.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from kiosk.config_cache import ConfigRejected, read_config_cache, validate_config_body, write_config_cache
from kiosk.errors import OutboxError, ServerRefused, ServerUnavailable, SyncError, TriggerRefused
from kiosk.identity import DeviceIdentity
from kiosk.sync import ACK_STATUSES, Clock, SyncClient, SyncPolicy, backoff_delay, new_session

log = logging.getLogger(__name__)

# Records the terminal can do without: a server that refuses one of them (an older server that does not know the kind,
# or one that will not take this record) gets it set aside, acknowledged locally as "refused" and never sent again,
# so the records after it are not held up. A rating, a prompt or a timeout is never on this list.
OPTIONAL_KINDS = ("contact",)
SET_ASIDE = "refused"
REFUSED_STATUSES = ("refused", "rejected")  # a per-record result that refuses a record
BATCH_REFUSED = (400, 422)  # the whole batch refused for its content (not for the signature, the device or size)

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
    optional = {r["id"] for r in sent_records if r.get("kind") in OPTIONAL_KINDS}
    plan: dict[str, str] = {}
    for item in results:
        if not isinstance(item, dict):
            continue
        record_id, status = item.get("id"), item.get("status")
        if record_id not in sent or record_id in plan:
            continue
        if status in ACK_STATUSES:
            plan[record_id] = status
        elif status in REFUSED_STATUSES and record_id in optional:
            plan[record_id] = SET_ASIDE  # a refused contact is set aside; a refused rating stays pending
    return list(plan.items())


def plan_refusal(batch: list[dict]) -> int | None:
    """After the server refused a whole batch for its content: how many records to send next so the refusal is pinned
    on an optional record, or 0 when the batch is that one optional record alone (set it aside). None when the batch
    holds no optional record: the refusal is not theirs, and is retried like any failure. Pure."""
    first = next((i for i, r in enumerate(batch) if r.get("kind") in OPTIONAL_KINDS), None)
    if first is None:
        return None
    if len(batch) == 1:
        return 0
    return first or 1  # the records before it on their own, else the optional record on its own


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
        self.next_batch: int | None = None  # a one-off smaller batch, to pin a refusal on an optional record
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
        size, self.next_batch = min(self.batch_size, self.next_batch or self.batch_size), None
        batch = self.outbox.pending(size)
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
            if e.status in BATCH_REFUSED and (size := plan_refusal(batch)) is not None:
                return self._narrow_refusal(batch, size, e)
            return self._failed(f"服务器拒绝：{e}", str(e), None)
        acks = plan_acks(batch, response)
        now = self.clock()
        apply_acks(self.outbox, acks, now)
        if not acks:
            return self._failed("服务器未确认任何记录", "no acknowledgements in the response", None)
        return self._succeeded(now)

    def _narrow_refusal(self, batch: list[dict], size: int, refusal: ServerRefused) -> float:
        """A refused batch with an optional record in it: send fewer at once until the refused record is alone; then
        set it aside (kept in the outbox, marked refused) and go on at once with the records after it."""
        if size:
            self.next_batch = size
            return 0.0
        (record,) = batch
        log.warning(
            "server refused %s record seq %s (%s); set aside, the records after it go on",
            record["kind"],
            record["seq"],
            refusal,
        )
        apply_acks(self.outbox, [(record["id"], SET_ASIDE)], self.clock())
        return self._succeeded(self.clock())

    def server_answered(self) -> None:
        """Another request got through (trigger long-poll, config pull): the server is back, so stop waiting out the
        backoff and push now. A Retry-After the server asked for is still honoured."""
        if self.failures > 0:
            self.failures = 0
            self.wake.set()

    def sync_now(self) -> None:
        """立即同步 on the maintenance screen: forget the backoff and try at once."""
        self.failures = 0
        self.wake.set()

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
    """Long-polls the server for case-system prompts and hands each to the flow, then acks it; the same answer
    says when the case on screen was rated by phone (the flow ends that prompt).

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
        on_answer: Callable[[], None] | None = None,
    ):
        self.client, self.submit, self.on_answer = client, submit, on_answer
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
            triggers, phone_rated = self.client.poll(self.policy.trigger_wait_s)
            self.tell_phone_rated(phone_rated)
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
        if self.on_answer:
            self.on_answer()  # the server answered: a sync worker waiting out its backoff tries now
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

    def tell_phone_rated(self, case_nos: list[str]) -> None:
        """The case on screen was rated by phone: the flow thanks the citizen and ends the prompt."""
        from kiosk.flow import RatedByPhone

        for case_no in case_nos:
            try:
                self.submit(RatedByPhone(case_no))
            except Exception:
                log.exception("the flow failed on a phone rating notice")

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

    def sync_now(self) -> None:
        self.worker.sync_now()

    def stop(self) -> None:
        self.poller.stop()
        self.worker.stop()


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
    stored = outbox.state("clock_offset_s")
    offset = None if stored is None else float(stored)  # None until the first answer: then it is kept even if tiny

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
    poller = TriggerPoller(client(), submit, policy=policy, on_answer=worker.server_answered)
    return SyncHandle(worker.start(), poller.start())
