"""Publishing a 通报: the report of a month, quarter or year made now, frozen — its figures as canonical JSON and its
XLSX and CSV as rendered, each with its sha256 in the audit log — so that it can be read and downloaded later exactly
as published, whatever changes afterwards (a late appeal upheld, a default rating). Publishing the same period
again needs a 更正说明 and makes the next numbered version; no version is ever overwritten."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sync_server.console.accounts import ADMIN, Scope, write_audit
from sync_server.console.corrections import Change, changes, period_key, sections_of, version_name
from sync_server.console.errors import AlreadyPublished, BadInput, RoleForbidden
from sync_server.console.labels import Names, china_time, china_today
from sync_server.console.period import report_period
from sync_server.console.reports import Section, csv_text, monthly_report, workbook_bytes
from sync_server.console.settings import ConsoleSettings
from sync_server.db import Store
from sync_server.storage import published as storage
from sync_server.storage.auditlog import publication_hashes
from sync_server.storage.published import Frozen
from sync_server.storage.schema import utc_iso

MAX_REASON = 500


@dataclass(frozen=True)
class Publication:
    id: int
    name: str  # 2026-11 月度通报第 1 版
    version: int
    content_hash: str
    xlsx_hash: str
    csv_hash: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(content: dict) -> str:
    """The one text of the figures that is hashed: sorted keys, no spaces, Chinese kept as is."""
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def publish(
    store: Store,
    spec: str,
    department: str | None,
    actor: str,
    role: str,
    now: datetime,
    names: Names,
    settings: ConsoleSettings,
    reason: str = "",
    address: str | None = None,
) -> Publication:
    """Freeze the 通报 of ``spec`` (2026-11, 2026Q4, 2026) for the hall or one department. Only a hall administrator
    (or the command line) publishes; a period already published is refused unless ``reason`` (更正说明) is given,
    which makes the next version."""
    if role != ADMIN:
        raise RoleForbidden("只有大厅管理员可以发布通报")
    kind, key = period_key(spec)
    report_period(key)  # refuses a malformed month, quarter or year
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise BadInput(f"更正说明最多 {MAX_REASON} 字", field="reason")
    dept = department or ""
    if dept and dept not in names.departments:
        raise BadInput(f"没有部门 {dept}", field="department")
    with store.write() as conn:
        version = storage.next_version(conn, kind, key, dept)
        if version > 1 and not reason:
            raise AlreadyPublished(
                f"{key} 的通报已发布（第 {version - 1} 版），发布后不再改动；"
                f"如需更正，请填写更正说明，发布第 {version} 版"
            )
        today = china_today(now)
        sections = monthly_report(conn, Scope(), key, dept or None, names, settings, today)
        meta = dict(kind=kind, period=key, department=dept, version=version, as_of=today.isoformat())
        meta |= dict(published_by=actor, published_at=china_time(utc_iso(now)), reason=reason or None)
        content = canonical({**meta, "sections": [s.__dict__ for s in sections]})
        content_hash = sha256(content.encode("utf-8"))
        files = [_cover(names, meta, content_hash)] + sections
        xlsx = workbook_bytes(files)
        csv = ("\ufeff" + csv_text(files)).encode("utf-8")
        frozen = Frozen(content, content_hash, xlsx, sha256(xlsx), csv, sha256(csv))
        report_id = storage.store_version(conn, kind, key, dept, version, frozen, reason or None, actor, now)
        row = storage.published(conn, report_id)
        detail = {"period": key, "department": dept or None, "version": version, "content_hash": content_hash}
        detail |= {"xlsx_hash": frozen.xlsx_hash, "csv_hash": frozen.csv_hash, "reason": reason or None}
        write_audit(conn, now, actor, "report.publish", f"通报 {version_name(row)}", detail, address)
    return Publication(report_id, version_name(row), version, content_hash, frozen.xlsx_hash, frozen.csv_hash)


def _cover(names: Names, meta: dict, content_hash: str) -> Section:
    """The first sheet of the published files: what was published, when, by whom, and the hash of its figures."""
    rows = [
        ["大厅", names.hall_name],
        ["通报", f"{meta['period']}（{'全大厅' if not meta['department'] else names.department(meta['department'])}）"],
        ["版本", f"第 {meta['version']} 版"],
        ["发布人", meta["published_by"]],
        ["发布时间（北京时间）", meta["published_at"]],
        ["数据散列（SHA-256，见审计日志）", content_hash],
    ]
    if meta["reason"]:
        rows.append(["更正说明", meta["reason"]])
    return Section("发布信息", ["项目", "内容"], rows)


# ---------------------------------------------------------------- reading a publication back


@dataclass(frozen=True)
class Check:
    """Whether the stored content and files still match the hashes stored with them and written to the audit log."""

    content: bool
    xlsx: bool
    csv: bool
    audited: bool

    @property
    def ok(self) -> bool:
        return self.content and self.xlsx and self.csv and self.audited


def check(conn, row) -> Check:
    audited = publication_hashes(conn, f"通报 {version_name(row)}")
    return Check(
        sha256(row.content.encode("utf-8")) == row.content_hash,
        sha256(bytes(row.xlsx)) == row.xlsx_hash,
        sha256(bytes(row.csv)) == row.csv_hash,
        audited == (row.content_hash, row.xlsx_hash, row.csv_hash),
    )


def changes_since(conn, row, scope: Scope, names: Names, settings: ConsoleSettings, now: datetime) -> list[Change]:
    """Each figure that differs now from the published version: the published value → the current value."""
    current = monthly_report(
        conn, scope, row.period, row.department or None, names, settings, china_today(now), corrections=False
    )
    return changes(sections_of(row), current)
