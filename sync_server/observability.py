"""Watching the server: ``/metrics`` in Prometheus text format, one JSON log line per request with a request id.

Where the numbers come from, so they stay right with several worker processes behind one database:

- facts the database holds (ratings received, terminals silent or with a clock off, open and overdue 差评) are
  read from the database at scrape time by ``DatabaseCollector``: every process answers the same, and a
  restart loses nothing. A scrape reads what grows with the hall, not with its history: ratings received come from
  ``received_ratings`` (one row per terminal and source, kept at every insert), the 差评 from the open ones;
- events no table keeps (sync batches and their per-record results, signature refusals, request latency) are
  ``prometheus_client`` counters and a histogram. With ``hcp server --workers N`` the CLI sets
  ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, and a scrape of any worker sums every worker's files
  (prometheus_client's multiprocess mode). They restart from zero with the server, as Prometheus expects.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from sync_server.devices import heard_too_long_ago
from sync_server.storage.devices import device_rows as device_rows_of
from sync_server.storage.handling_reads import unfinished_bad_ratings
from sync_server.storage.records import received_by_source

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CHINA = timedelta(hours=8)

request_id_var: ContextVar[str] = ContextVar("hcp_request_id", default="")
access_log = logging.getLogger("hcp.access")


# ---------------------------------------------------------------- the event counters


class EventMetrics:
    """Counters and the latency histogram of one app (in multiprocess mode, backed by files shared by workers)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.batches = Counter("hcp_sync_batches", "收到的评价器同步批次", registry=r)
        self.records = Counter("hcp_sync_records", "同步记录的处理结果", ["result"], registry=r)
        self.refusals = Counter("hcp_signature_refusals", "被拒绝的设备签名请求", ["reason"], registry=r)
        self.requests = Counter("hcp_http_requests", "HTTP 请求数", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "hcp_http_request_duration_seconds",
            "HTTP 请求耗时（秒）",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        for result in ("stored", "duplicate", "conflict"):
            self.records.labels(result)  # present at 0 before the first batch

    def batch(self, results: list[tuple[str, str]]) -> None:
        self.batches.inc()
        for _rid, status in results:
            self.records.labels(status).inc()

    def refused(self, exc: Exception) -> None:
        self.refusals.labels(_snake(type(exc).__name__)).inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------- facts from the database


class DatabaseCollector:
    """Gauges and totals counted from the database at scrape time (the same answer from every process)."""

    def __init__(self, app):
        self.app = app

    def describe(self):
        return []  # computed at scrape time only; nothing to query at registration

    def collect(self):
        state = self.app.state
        now = state.clock()
        silent_minutes, clock_warn_s = _device_thresholds(self.app)
        with state.store.read() as conn:
            received = received_by_source(conn)
            device_rows = [
                ((d.last_seen_at, d.enrolled_at), d.last_status) for d in device_rows_of(conn) if d.revoked_at is None
            ]
            open_bad, overdue = bad_ratings(conn, now)
            upstream = upstream_counts(conn)
        yield _received_family(received)
        yield from _device_families(device_rows, now, silent_minutes, clock_warn_s)
        yield GaugeMetricFamily(
            "hcp_bad_ratings_open", "未办结的差评（计入统计的 1–2 级评价，未被申诉排除）", value=open_bad
        )
        yield GaugeMetricFamily("hcp_bad_ratings_overdue", "已超过联系群众期限仍未办结的差评", value=overdue)
        yield _upstream_family(upstream)


def upstream_counts(conn) -> dict[str, int]:
    from sync_server.storage.upstream import counts_by_state

    return counts_by_state(conn)


def _upstream_family(counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "hcp_upstream_items",
        "上报省平台的条目（按状态：pending 待上报、accepted 已接收、rejected 被退回）",
        labels=["state"],
    )
    for state, n in sorted(counts.items()):
        family.add_metric([state], n)
    return family


def _received_family(rows: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "hcp_ratings_received", "收到的评价（按来源：device 评价器、qr 扫码、default 默认）", labels=["source"]
    )
    counts = {"device": 0, "qr": 0, "default": 0} | dict(rows)
    for source, n in sorted(counts.items()):
        family.add_metric([source], n)
    return family


def _device_families(rows, now: datetime, silent_minutes: int, clock_warn_s: float):
    silent = sum(1 for (seen, enrolled), _ in rows if heard_too_long_ago(seen, enrolled, now, silent_minutes))
    off = sum(1 for _, status in rows if clock_is_off(status, clock_warn_s))
    yield GaugeMetricFamily("hcp_terminals", "在用的评价器", value=len(rows))
    yield GaugeMetricFamily("hcp_terminals_silent", f"超过 {silent_minutes} 分钟未联系的评价器", value=silent)
    yield GaugeMetricFamily("hcp_terminals_clock_off", f"时钟偏差超过 {clock_warn_s:g} 秒的评价器", value=off)


def clock_is_off(last_status: str | None, warn_s: float) -> bool:
    """Did the terminal's last status report a clock offset larger than ``warn_s`` either way?"""
    try:
        offset = float(json.loads(last_status or "{}").get("clock_offset_s"))
    except (TypeError, ValueError, AttributeError):
        return False
    return abs(offset) > warn_s


def _device_thresholds(app) -> tuple[int, float]:
    from sync_server.console.context import console_settings

    settings = console_settings(app)
    return settings.device_silent_minutes, float(getattr(settings, "device_clock_warn_s", 120))


def _deadline_rules(conn):
    from haochaping.config import DeadlineRules
    from sync_server.configs import current_config

    cv = current_config(conn)
    return cv.config.rules.deadlines if cv else DeadlineRules()


def bad_ratings(conn, now: datetime) -> tuple[int, int]:
    """(open, overdue) 差评, from the database.

    Open: counting ratings of level 1–2 that no upheld appeal excludes and whose handling record (差评工单 of the
    workflow, table ``bad_cases``) is not closed. Overdue: the step the record waits for is past its deadline (red
    card); a bad rating without a handling record yet is overdue once the contact deadline
    (``deadlines.contact_days`` working days after the rating day, China time) has passed.
    """
    handling = _Handling(conn)
    bad = unfinished_bad_ratings(conn, handling.finished_states())
    rules, today = _deadline_rules(conn), (now.astimezone(UTC) + CHINA).date()
    calendar = handling.calendar
    open_, overdue = 0, 0
    for record_id, rated_at in bad:
        case = handling.cases.get(record_id)
        if case is not None:
            late = handling.overdue(case, today, rules)
            if late is None:  # closed, or the appeal was upheld
                continue
        else:
            day = (datetime.fromisoformat(rated_at).astimezone(UTC) + CHINA).date()
            late = calendar.add_working_days(day, rules.contact_days).due < today
        open_ += 1
        overdue += late
    return open_, overdue


class _Handling:
    """The 差评 workflow's unfinished handling records and the working-day calendar their deadlines run on."""

    def __init__(self, conn):
        from sync_server.storage.handling import open_case_rows
        from sync_server.storage.schema import UNFINISHED_ROWS
        from sync_server.workflow.deadlines import calendar_of

        self.cases = {row.record_id: row for row in open_case_rows(conn, where=[UNFINISHED_ROWS])}
        self.calendar = calendar_of(conn)

    @staticmethod
    def finished_states() -> list[str]:
        """The states of a finished handling record (closed, appeal upheld, withdrawn)."""
        from sync_server.workflow.machine import FINISHED

        return [s.value for s in FINISHED]

    def overdue(self, case, today: date, rules) -> bool | None:
        """None when the record is finished (closed, appeal upheld, withdrawn); else whether its pending step is red."""
        from sync_server.workflow.deadlines import RED, card, pending_due, step_dues
        from sync_server.workflow.machine import FINISHED, State

        if case.closed_at is not None or case.state in FINISHED:
            return None
        return_state = State(case.return_state) if case.return_state else None
        due = pending_due(case, State(case.state), return_state, step_dues(case, rules, self.calendar))
        return card(due, today, rules, self.calendar) == RED


# ---------------------------------------------------------------- /metrics


def metrics_text(app) -> bytes:
    """The exposition of every metric: this process's (or all workers') events plus the database facts."""
    folder = multiprocess_dir()
    if folder is not None:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(folder))
    else:
        registry = app.state.event_metrics.registry
    text = generate_latest(registry)
    return text + generate_latest(_DatabaseRegistry(app))


def multiprocess_dir() -> Path | None:
    """The folder of the multiprocess counters when the CLI started several workers (process edge)."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


class _DatabaseRegistry:
    """Enough of a registry for ``generate_latest``: one collector, collected afresh each time."""

    def __init__(self, app):
        self.collector = DatabaseCollector(app)

    def collect(self):
        return self.collector.collect()


CONTENT_TYPE = CONTENT_TYPE_LATEST


# ---------------------------------------------------------------- request ids and JSON logs


def request_id_from(headers: dict[bytes, bytes]) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    given = headers.get(b"x-request-id", b"").decode("latin-1").strip()
    return given if _REQUEST_ID_OK.match(given) else uuid.uuid4().hex


class ObservabilityMiddleware:
    """Pure ASGI: a request id in and out, one JSON access log line, the latency histogram and request counter."""

    def __init__(self, app, metrics: EventMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = request_id_from(dict(scope.get("headers") or ()))
        token = request_id_var.set(rid)
        started, status = time.perf_counter(), [500]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._finish(scope, status[0], time.perf_counter() - started)
            request_id_var.reset(token)

    def _finish(self, scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.request(method, route, status, seconds)
        access_log.info(
            "request",
            extra={
                "http": {
                    "method": method,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                }
            },
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and, for requests, the HTTP facts."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get() or None,
        }
        line.update(getattr(record, "http", None) or {})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_json_logging(stream=None, level: int = logging.INFO) -> logging.Handler:
    """Send the server's logs (ours and uvicorn's errors) to ``stream`` as JSON lines; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our access line replaces it
    return handler
