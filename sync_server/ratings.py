"""One counting rating per case: when several ratings exist (kiosk and phone, or a default), the earliest real
rating counts (assessNumber 1), the next one is the 追评 (assessNumber 2) where the rules allow it, and every
other one is kept as superseded. A default rating (channel 0, 系统默认评价) only counts when nothing else exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, select

from haochaping.chain import record_hash
from haochaping.levels import CHANNEL_DEFAULT
from sync_server.configs import current_config, current_rules
from sync_server.console.rollup import apply_rollup_delta, rollup_snapshot
from sync_server.db import Store
from sync_server.errors import NotConfigured
from sync_server.storage.schema import cases, ratings, records, utc_iso
from sync_server.workflow.cases import open_bad_cases, withdraw_displaced

COUNTING, FOLLOW_UP, SUPERSEDED = "counting", "follow_up", "superseded"


@dataclass(frozen=True)
class RatingFact:
    record_id: str
    case_no: str
    level: int
    channel: int | None
    rated_at: str
    received_at: str


def _order_key(fact: RatingFact) -> tuple:
    return (fact.channel == CHANNEL_DEFAULT, datetime.fromisoformat(fact.rated_at), fact.received_at, fact.record_id)


def settle(facts: Iterable[RatingFact], follow_up_allowed: bool) -> dict[str, tuple[str, int | None]]:
    """Role and assessNumber of each rating of ONE case (pure)."""
    roles: dict[str, tuple[str, int | None]] = {}
    real_seen = 0
    for fact in sorted(facts, key=_order_key):
        is_default = fact.channel == CHANNEL_DEFAULT
        if not roles:
            roles[fact.record_id] = (COUNTING, 1)
        elif not is_default and real_seen == 1 and follow_up_allowed:
            roles[fact.record_id] = (FOLLOW_UP, 2)
        else:
            roles[fact.record_id] = (SUPERSEDED, None)
        real_seen += 0 if is_default else 1
    return roles


def settle_cases(store: Store, conn: Connection, case_nos: set[str]) -> None:
    """Recompute the roles of every rating of these cases, inside the caller's transaction."""
    if not case_nos:
        return
    follow_up = current_rules(conn).follow_up_allowed
    before = rollup_snapshot(conn, case_nos)  # the console's daily rollup, kept in the same transaction
    if store.dialect == "postgresql":  # one settler per case at a time; SQLite's writer holds the database lock
        locking = select(cases.c.case_no).where(cases.c.case_no.in_(case_nos)).order_by(cases.c.case_no)
        conn.execute(locking.with_for_update())
    r = records.c
    rows = conn.execute(
        select(r.id, r.case_no, r.level, r.channel, r.occurred_at, r.received_at).where(
            r.kind == "rating", r.case_no.in_(case_nos), r.level.is_not(None)
        )
    ).all()
    by_case: dict[str, list[RatingFact]] = {}
    for row in rows:
        fact = RatingFact(row.id, row.case_no, row.level, row.channel, row.occurred_at, row.received_at)
        by_case.setdefault(row.case_no, []).append(fact)
    upserts = []
    for facts in by_case.values():
        roles = settle(facts, follow_up)
        for f in facts:
            role, number = roles[f.record_id]
            upserts.append(
                dict(
                    record_id=f.record_id,
                    case_no=f.case_no,
                    level=f.level,
                    channel=f.channel,
                    rated_at=f.rated_at,
                    role=role,
                    assess_number=number,
                )
            )
    if upserts:
        stmt = store.insert(ratings)
        stmt = stmt.on_conflict_do_update(
            index_elements=["record_id"],
            set_={"role": stmt.excluded.role, "assess_number": stmt.excluded.assess_number},
        )
        conn.execute(stmt, upserts)
    apply_rollup_delta(conn, before, case_nos)
    withdraw_displaced(conn, case_nos)  # the 差评 workflow, in this same transaction: a displaced rating's record
    open_bad_cases(store, conn, case_nos)  # is withdrawn, a newly counting bad rating's is opened (当日建档)


def ensure_cases(store: Store, conn: Connection, rows: list[dict]) -> None:
    """Create or complete the case rows these records tell about (prompted cases are what default ratings need)."""
    if not rows:
        return
    before = rollup_snapshot(conn, {r["case_no"] for r in rows}, ratings_too=False)  # the console's rollup
    rows = _one_row_per_case(rows)  # sorted: concurrent writers take row locks in the same order
    stmt = store.insert(cases)
    keep = {c: _coalesce(cases.c[c], stmt.excluded[c]) for c in ("window", "device_id", "matter_code", "clerk_no")}
    keep["prompted_at"] = _coalesce(cases.c.prompted_at, stmt.excluded.prompted_at)
    conn.execute(stmt.on_conflict_do_update(index_elements=["case_no"], set_=keep), rows)
    apply_rollup_delta(conn, before, {r["case_no"] for r in rows})


def _one_row_per_case(rows: list[dict]) -> list[dict]:
    merged: dict[str, dict] = {}
    for row in rows:
        into = merged.setdefault(row["case_no"], dict(row))
        for key, value in row.items():
            if into.get(key) is None:
                into[key] = value
    return [merged[k] for k in sorted(merged)]


def _coalesce(a, b):
    from sqlalchemy import func

    return func.coalesce(a, b)


def case_row(record: dict) -> dict:
    return {
        "case_no": record["case_no"],
        "window": record.get("window"),
        "device_id": record.get("device_id"),
        "matter_code": record.get("matter_code"),
        "clerk_no": record.get("clerk_no"),
        "prompted_at": record.get("prompted_at") or record["occurred_at"],
    }


def case_is_rated(conn: Connection, case_no: str) -> bool:
    return conn.execute(select(ratings.c.record_id).where(ratings.c.case_no == case_no).limit(1)).first() is not None


# ---------------------------------------------------------------- default ratings (系统默认评价)


def server_record(**fields) -> dict:
    """A rating the server makes itself (phone or default): no device chain, ``seq`` and ``prev_hash`` empty."""
    rec = {
        "seq": None,
        "prev_hash": None,
        "reasons": [],
        "detail": {},
        "reasons_version": None,
        "comment": None,
        "prompted_at": None,
        "clerk_no": None,
        "matter_code": None,
        "window": None,
    }
    rec.update(fields)
    rec["hash"] = record_hash(rec)
    return rec


def record_row(
    rec: dict, source: str, received_at: str, batch_id: str, flags: str = "", content_hash: str | None = None
) -> dict:
    row = {
        k: rec.get(k)
        for k in (
            "id",
            "device_id",
            "seq",
            "kind",
            "window",
            "clerk_no",
            "case_no",
            "matter_code",
            "level",
            "reasons_version",
            "comment",
            "channel",
            "prompted_at",
            "occurred_at",
            "prev_hash",
            "hash",
        )
    }
    row.update(
        reasons=json.dumps(rec.get("reasons") or [], ensure_ascii=False),
        detail=json.dumps(rec.get("detail") or {}, ensure_ascii=False, sort_keys=True),
        source=source,
        received_at=received_at,
        batch_id=batch_id,
        flags=flags,
        content_hash=content_hash or record_hash(rec),
    )
    return row


def apply_default_ratings(store: Store, now: datetime) -> list[str]:
    """Rate every prompted case still unrated ``default_rating_after_days`` after its prompt with the configured
    default level, as channel 0. Idempotent (the record id is derived from the case). Returns the case numbers.

    A default rating is made at the moment its case became due for one (prompt + N natural days), not when this
    command runs: it counts in the period it belongs to, however late the command runs."""
    with store.write() as conn:
        cv = current_config(conn)
        if cv is None:
            raise NotConfigured("尚未导入大厅配置（hcp server config import）")
        rules = cv.config.rules
        if rules.default_rating == 0:
            return []
        cutoff = utc_iso(now - timedelta(days=rules.default_rating_after_days))
        due = conn.execute(
            select(cases)
            .outerjoin(ratings, ratings.c.case_no == cases.c.case_no)
            .where(and_(ratings.c.record_id.is_(None), cases.c.prompted_at <= cutoff, cases.c.device_id.is_not(None)))
            .order_by(cases.c.case_no)
        ).all()
        rows = [_default_row(c, rules, now) for c in due]
        if rows:
            conn.execute(store.insert(records).on_conflict_do_nothing(index_elements=["id"]), rows)
            settle_cases(store, conn, {c.case_no for c in due})
    return [c.case_no for c in due]


def default_rating_time(prompted_at: str, after_days: int) -> str:
    """When a case unrated since ``prompted_at`` became due for its default rating (UTC ISO)."""
    return utc_iso(datetime.fromisoformat(prompted_at) + timedelta(days=after_days))


def _default_row(case, rules, now: datetime) -> dict:
    rec = server_record(
        id=f"default:{case.case_no}",
        kind="rating",
        device_id=case.device_id,
        window=case.window,
        clerk_no=case.clerk_no,
        case_no=case.case_no,
        matter_code=case.matter_code,
        level=rules.default_rating,
        channel=CHANNEL_DEFAULT,
        prompted_at=case.prompted_at,
        occurred_at=default_rating_time(case.prompted_at, rules.default_rating_after_days),
        detail={"rule": rules.province, "after_days": rules.default_rating_after_days},
    )
    return record_row(rec, "default", utc_iso(now), "default")
