"""The demo's 考核 and 考勤: proposals from the sample days (sign-ins after 09:15, 红牌 steps, verified attitude
差评), most of the older ones confirmed or dismissed by the sample administrators (four-eyes where it deducts 5 or
more), a thanks letter with its evidence, and last year closed with a few confirmed events, so the console shows
proposed and confirmed events and the public board an 优秀 list."""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from haochaping.config import HallConfig
from sync_server.assessment.attendance import china_day
from sync_server.assessment.events import ManualEvent, Person, add_manual, confirm, dismiss
from sync_server.assessment.proposals import refresh
from sync_server.assessment.rules import current_rules
from sync_server.assessment.scores import close_year
from sync_server.db import Store
from sync_server.storage import assessment as db
from sync_server.workflow.evidence import Evidence

ADMIN, SECOND = Person("示例-管理员", "admin"), Person("示例-管理员2", "admin")
SETTLED_DAYS = 7  # proposals older than this are usually decided
DISMISS_NOTES = ("经核实当日系统故障，签到延后，不予扣分", "已补交请假条，按请假处理")
CONFIRM_NOTES = ("经核实属实", "已与本人核对，属实", "核对评价器记录，属实")


@dataclass
class AssessmentCounts:
    proposed: int = 0
    confirmed: int = 0
    dismissed: int = 0
    waiting: int = 0

    def line(self, closed_year: int | None) -> str:
        closed = f"，{closed_year} 年度已结束" if closed_year else ""
        return (
            f"考核事件建议 {self.proposed} 条（已确认 {self.confirmed}、不予认定 {self.dismissed}、"
            f"待确认 {self.waiting}）{closed}"
        )


def png(width: int = 48, height: int = 32) -> bytes:
    """A small plain PNG (an image stands in for a scanned letter)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\xf4\xe0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def sample_assessment(store: Store, config: HallConfig, first: date, now: datetime, seed: int) -> tuple:
    """Proposals of [first, yesterday], decisions on the older ones, a thanks letter, last year closed."""
    rng, today = random.Random(seed + 12), china_day(now)
    with store.read() as conn:
        rules = current_rules(conn)
    clerks = [c.no for c in config.hall.clerks]
    closed = _close_last_year(store, config, rules, clerks, today, now)
    counts = AssessmentCounts()
    counts.proposed = refresh(store, first, today, now).proposed
    with store.read() as conn:
        waiting = db.events_between(conn, first.isoformat(), today.isoformat(), states=db.OPEN_STATES)
    for i, e in enumerate(waiting):
        if date.fromisoformat(e.day) > today - timedelta(days=SETTLED_DAYS):
            continue
        if i % 5 == 4:
            dismiss(store, e.id, ADMIN, DISMISS_NOTES[i % 2], now)
            counts.dismissed += 1
            continue
        note = rng.choice(CONFIRM_NOTES)
        if confirm(store, e.id, ADMIN, note, rules, now) == "confirming" and i % 3:
            confirm(store, e.id, SECOND, "复核记录，同意", rules, now)  # some heavy ones still wait for the second
        counts.confirmed += 1
    if clerks and first.year == today.year:
        letter = (Evidence("感谢信（示例）.png", "image/png", png()),)
        day = max(first, today - timedelta(days=3)).isoformat()
        thanks = ManualEvent(clerks[0], "thanks", "", day, "群众送来书面感谢信，表扬耐心细致", letter)
        add_manual(store, thanks, ADMIN, rules, config.hall, today.year, now)
    with store.read() as conn:
        counts.waiting = len(db.events_between(conn, first.isoformat(), today.isoformat(), states=db.OPEN_STATES))
    return counts, closed


def _close_last_year(store, config, rules, clerks, today: date, now: datetime) -> int | None:
    """Last year with three confirmed events, closed by the sample administrator."""
    year = today.year - 1
    with store.read() as conn:
        if db.closed_year(conn, year) or len(clerks) < 2:
            return None
    for clerk, kind, summary in (
        (clerks[0], "honour_county", "获县级“人民满意窗口服务标兵”表扬"),
        (clerks[1], "shirking", "将群众推到部门咨询，经查属实"),
        (clerks[1], "badge", "未按规定佩证上岗"),
    ):
        event_id = add_manual(store, ManualEvent(clerk, kind, "", f"{year}-11-20", summary), ADMIN, rules,
                              config.hall, year, now)  # fmt: skip
        if confirm(store, event_id, ADMIN, "经核实属实", rules, now) == "confirming":
            confirm(store, event_id, SECOND, "复核记录，同意", rules, now)
    close_year(store, year, ADMIN, rules, config.hall, now)
    return year
