"""Sample activity for the demo hall (``hcp server demo-data``): past working days of sign-ins, prompts, ratings and
timeouts made by one sample terminal per window, signed and pushed through the server's own ingest, plus phone
ratings of some timed-out cases through the QR page's functions. Rollups, the dashboard and the 差评工单 with their
working-day deadlines are all built by the normal code; the 差评工单 are then handled by sample actors through the
workflow's own steps (``demo_handling``). Nothing is inserted into a table directly.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata

from haochaping.chain import GENESIS_HASH, RECORD_FIELDS, record_hash
from haochaping.config import HallConfig, Window
from haochaping.qrtoken import make_token
from haochaping.signing import sign_headers
from sync_server.auth import authenticate
from sync_server.configs import current_config
from sync_server.db import Store
from sync_server.demo_handling import HandlingCounts, handle_bad_cases, handling_counts
from sync_server.devices import Device, add_enrolment_code, enrol, record_status
from sync_server.errors import Conflict, NotConfigured
from sync_server.ingest import ingest
from sync_server.qrpage import load_case, parse_form, store_rating
from sync_server.schemas import RecordIn, StatusRequest
from sync_server.storage.cases import any_rating
from sync_server.storage.handling import count_cases
from sync_server.storage.rollups import CHINA
from sync_server.storage.schema import utc_iso
from sync_server.workflow.deadlines import calendar_of

LEVEL_WEIGHTS = {5: 60.0, 4: 27.5, 3: 10.0, 2: 1.7, 1: 0.8}  # 87.5% 非常满意/满意, 2.5% 差评
TIMEOUT_SHARE = 0.06  # prompts nobody answered: 未评价，已超时
PHONE_SHARE = 0.3  # of the timed-out cases, rated the same evening by scanning the QR code
CASES_PER_DAY = (10, 40)
OPEN, CLOSE, SHIFT_CHANGE = time(9), time(17), 13  # office hours, China time; the afternoon clerk's hour
SOURCES = ("http", "http", "http", "barcode", "staff")  # how the case system or clerk triggered the prompt
PHONE_COMMENTS = ("", "", "窗口人员很耐心，谢谢", "材料清单要是能提前在网上看到就好了", "排队时间有点长")
RECORDS_PATH, STATUS_PATH = "/api/v1/records", "/api/v1/status"


class DemoDataRefused(Conflict):
    """The database already holds ratings: sample data is only for a freshly configured database."""


@dataclass
class DemoSummary:
    """What was generated, for the one-line report."""

    working_days: int = 0
    windows: int = 0
    cases: int = 0
    ratings: int = 0  # at the window and by phone; each counts (one rating per case)
    phone: int = 0
    bad: int = 0
    timeouts: int = 0
    bad_cases: int = 0  # 差评工单 the workflow opened
    handling: HandlingCounts = field(default_factory=HandlingCounts)  # where they stand after the sample handling
    assessment: str = ""  # the sample 考核 events, one clause

    def line(self, days: int) -> str:
        h = self.handling
        return (
            f"示例数据：近 {days} 天中的 {self.working_days} 个工作日，{self.windows} 个窗口，共 {self.cases} 件，"
            f"评价 {self.ratings} 条（其中扫码 {self.phone} 条），差评 {self.bad} 条，差评工单 {self.bad_cases} 张"
            f"（办结 {h.closed}、处理中 {h.open}、不予采纳 {h.upheld}），超时未评价 {self.timeouts - self.phone} 件"
            + (f"；{self.assessment}" if self.assessment else "")
        )


def china(day: date, at: time) -> datetime:
    """A China (UTC+8) wall-clock moment as a UTC datetime."""
    return datetime.combine(day, at, tzinfo=CHINA).astimezone(UTC)


class SampleTerminal:
    """One window's terminal: enrolled with a one-time code; chains its records exactly as the kiosk's outbox."""

    def __init__(self, store: Store, device: Device, window: Window, rng: random.Random):
        self.store, self.device, self.window, self.rng = store, device, window, rng
        self.seq, self.prev = 0, GENESIS_HASH
        self.clerk_no: str | None = None  # signed in
        self.last_push: datetime | None = None

    @classmethod
    def enrol(cls, store: Store, window: Window, at: datetime, rng: random.Random) -> SampleTerminal:
        code, _ = add_enrolment_code(store, window.code, at)
        return cls(store, enrol(store, code, at), window, rng)

    def record(self, kind: str, when: datetime, **fields) -> dict:
        self.seq += 1
        rec = {k: None for k in RECORD_FIELDS} | {"reasons": [], "detail": {}} | fields
        rec |= dict(id=f"{self.rng.getrandbits(128):032x}", seq=self.seq, kind=kind, device_id=self.device.id)
        rec |= dict(window=self.window.code, clerk_no=self.clerk_no, occurred_at=utc_iso(when), prev_hash=self.prev)
        rec["hash"] = self.prev = record_hash(rec)
        return rec

    def change_clerk(self, clerk_no: str | None, when: datetime) -> list[dict]:
        """Sign the current clerk out and the next one in (the kiosk cannot prompt while signed out)."""
        if clerk_no == self.clerk_no:
            return []
        out = [self.record("sign_out", when - timedelta(seconds=30))] if self.clerk_no else []
        self.clerk_no = clerk_no
        return out + ([self.record("sign_in", when)] if clerk_no else [])

    def signed(self, path: str, payload: dict, at: datetime) -> None:
        """Authenticate a request as the API does: signature, nonce, and the device's last contact."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = sign_headers(self.device.id, self.device.secret, "POST", path, body, at.timestamp())
        authenticate(self.store, "POST", path, headers, body, at)

    def push(self, batch: list[dict], at: datetime) -> None:
        """One signed batch, validated and ingested exactly as ``POST /api/v1/records`` does."""
        self.signed(RECORDS_PATH, {"records": batch}, at)
        checked = [RecordIn.model_validate(r).model_dump() for r in batch]
        ingest(self.store, self.device.id, checked, at, self.device.window)
        self.last_push = at

    def report_status(self, config_version: str) -> None:
        if self.last_push is None:
            return
        status = StatusRequest(
            outbox_depth=0,
            config_version=config_version,
            clock_offset_s=round(self.rng.uniform(-1.5, 1.5), 2),
            last_sync_at=utc_iso(self.last_push),
            app_version=metadata.version("haochaping"),
        ).model_dump()
        self.signed(STATUS_PATH, status, self.last_push)  # right after its last batch
        record_status(self.store, self.device.id, status)


@dataclass(frozen=True)
class TimedOut:
    """A case whose prompt timed out at the window; the citizen may still rate it by QR code."""

    terminal: SampleTerminal
    case_no: str
    prompted_at: datetime


class DemoHall:
    """Generates the sample days of one hall configuration, deterministically from ``seed``."""

    def __init__(self, store: Store, config: HallConfig, seed: int):
        self.store, self.config, self.rng = store, config, random.Random(seed)
        self.summary = DemoSummary(windows=len(config.hall.windows))

    def choose_rating(self) -> tuple[int, list[int]]:
        """A level by the hall's usual spread and reasons of that level: a bad rating always has one or two."""
        level = self.rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()))[0]
        codes = [r.code for r in self.config.reasons.for_level(level)]
        k = self.rng.choice((1, 1, 2) if level <= 2 else (0, 0, 1, 2))
        return level, sorted(self.rng.sample(codes, min(k, len(codes))))

    def case(self, t: SampleTerminal, case_no: str, at: datetime, timed_out: list[TimedOut]) -> list[dict]:
        """The prompt of one closed case, then the citizen's rating or the timeout."""
        matter, source = self.rng.choice(t.window.matters), self.rng.choice(SOURCES)
        fields = dict(case_no=case_no, matter_code=matter, channel=4, prompted_at=utc_iso(at))
        prompt = t.record("prompt", at, detail={"source": source}, **fields)
        self.summary.cases += 1
        if self.rng.random() < TIMEOUT_SHARE:
            self.summary.timeouts += 1
            timed_out.append(TimedOut(t, case_no, at))
            end = at + timedelta(seconds=self.config.rules.prompt_timeout_s)
            return [prompt, t.record("timeout", end, detail={"stage": "prompt"}, **fields)]
        level, reasons = self.choose_rating()
        self.count_rating(level)
        delay = self.rng.uniform(20, 55) if level <= 2 else self.rng.uniform(4, 25)  # reasons take a while
        rating = dict(level=level, reasons=reasons, reasons_version=self.config.reasons.version, **fields)
        return [prompt, t.record("rating", at + timedelta(seconds=delay), detail={"source": source}, **rating)]

    def count_rating(self, level: int) -> None:
        self.summary.ratings += 1
        self.summary.bad += level <= 2

    def day(self, t: SampleTerminal, index: int, day: date, until: datetime, timed_out: list[TimedOut]) -> None:
        """One working day at one window: 10–40 cases spread over office hours, ending before ``until``."""
        clerks = [c.no for c in self.config.hall.clerks if c.department == t.window.department] or [None]
        shifts = (self.rng.choice(clerks), self.rng.choice(clerks))  # morning, afternoon
        start, end = china(day, OPEN), china(day, CLOSE)
        n = self.rng.randint(*CASES_PER_DAY)
        slot = (end - start) / n  # at least 12 minutes: one prompt per slot, in its first 60%
        batch: list[dict] = []
        for i in range(n):
            at = start + slot * i + timedelta(seconds=self.rng.uniform(0, slot.total_seconds() * 0.6))
            if at + timedelta(minutes=3) > until:
                break
            batch += t.change_clerk(shifts[at.astimezone(CHINA).hour >= SHIFT_CHANGE], at - timedelta(minutes=2))
            batch += self.case(t, f"{day:%Y%m%d}{index:02d}{i + 1:03d}", at, timed_out)
        if end + timedelta(minutes=5) < until:
            batch += t.change_clerk(None, end + timedelta(minutes=5))
        if batch:
            t.push(batch, min(end + timedelta(minutes=30), until))

    def phone_ratings(self, day: date, timed_out: list[TimedOut], until: datetime) -> None:
        """Some citizens who let the prompt time out rate that evening on the phone page (channel 3)."""
        for case in timed_out:
            if self.rng.random() >= PHONE_SHARE:
                continue
            at = china(day, time(19)) + timedelta(seconds=self.rng.uniform(0, 3 * 3600))
            level, reasons = self.choose_rating()
            comment = self.rng.choice(PHONE_COMMENTS)
            if at >= until:
                continue
            token = make_token(case.terminal.device.id, case.case_no, case.prompted_at, case.terminal.device.secret)
            with self.store.write() as conn:
                view = load_case(conn, token, at)
                rating = parse_form(view, str(level), [str(r) for r in reasons], comment)
                store_rating(self.store, conn, view, rating, at)
            self.count_rating(level)
            self.summary.phone += 1


def generate(store: Store, now: datetime, days: int = 30, seed: int = 7) -> DemoSummary:
    """Fill a freshly configured database with the past ``days`` calendar days of sample activity (working days
    only, office hours, everything before ``now``). Refuses with ``DemoDataRefused`` when ratings already exist."""
    with store.read() as conn:
        cv = current_config(conn)
        if cv is None:
            raise NotConfigured("尚未导入大厅配置，请先运行 hcp server config import")
        if any_rating(conn):
            raise DemoDataRefused("数据库中已有评价，示例数据只用于新建的数据库，本次未做任何改动")
        calendar = calendar_of(conn)
    today = now.astimezone(CHINA).date()
    past = (today - timedelta(days=k) for k in range(days - 1, -1, -1))
    workdays = [d for d in past if calendar.is_working_day(d) and china(d, OPEN) < now]
    hall = DemoHall(store, cv.config, seed)
    hall.summary.working_days = len(workdays)
    if not workdays:
        return hall.summary
    enrolled_at = min(china(workdays[0], time(8, 30)), now)
    terminals = [SampleTerminal.enrol(store, w, enrolled_at, hall.rng) for w in cv.config.hall.windows]
    for day in workdays:
        timed_out: list[TimedOut] = []
        for index, t in enumerate(terminals, start=1):
            hall.day(t, index, day, now, timed_out)
        hall.phone_ratings(day, timed_out, now)
    for t in terminals:
        t.report_status(cv.version)
    handle_bad_cases(store, cv.config, now, seed, (OPEN, CLOSE))
    with store.read() as conn:
        hall.summary.bad_cases = count_cases(conn)
    hall.summary.handling = handling_counts(store)
    from sync_server.demo_assessment import sample_assessment

    counts, closed = sample_assessment(store, cv.config, workdays[0], now, seed)
    hall.summary.assessment = counts.line(closed)
    return hall.summary
