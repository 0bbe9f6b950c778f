"""Storage of the provincial upload: what should be sent (counting ratings, 差评工单 steps, appeal outcomes), the
queue of items with their leases, the receipts, and the counts the console and ``/metrics`` show."""

from __future__ import annotations

import json

from sqlalchemy import Connection, and_, bindparam, func, select, update

from sync_server.db import Store
from sync_server.storage import leases
from sync_server.storage.cases import true_window
from sync_server.storage.contacts import masked_contact
from sync_server.storage.schema import (
    appeals,
    bad_cases,
    case_events,
    ratings,
    records,
    upstream_items,
    upstream_receipts,
)

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
STATES = (PENDING, ACCEPTED, REJECTED)
STATE_LABELS = {PENDING: "待上报", ACCEPTED: "省平台已接收", REJECTED: "省平台退回"}
REPORTED_STEPS = ("verify_true", "verify_false", "rectify", "revisit", "explain", "close")
TEST_MARK = '%"test": true%'


# ---------------------------------------------------------------- what should be sent


def counting_ratings(conn: Connection, start: str, end: str) -> list:
    """Counting ratings (not tests) rated in [start, end), with the record's fields."""
    query = (
        select(
            ratings.c.record_id,
            ratings.c.rated_at,
            ratings.c.assess_number,
            ratings.c.level,
            ratings.c.channel,
            records.c.case_no,
            records.c.matter_code,
            true_window().label("window"),  # the enrolled window of a window_mismatch record, as counted
            records.c.reasons,
            records.c.comment,
            records.c.detail,
            masked_contact(records.c.case_no),
        )
        .select_from(ratings.join(records, records.c.id == ratings.c.record_id))
        .where(ratings.c.role == "counting", ratings.c.rated_at >= start, ratings.c.rated_at < end)
        .where(~records.c.detail.like(TEST_MARK))
    )
    return conn.execute(query).all()


def handling_steps(conn: Connection, start: str, end: str) -> list:
    """The 核实, 整改, 回访, 解释说明 and 办结 steps of 差评工单 taken in [start, end)."""
    query = (
        select(
            case_events.c.id,
            case_events.c.at,
            case_events.c.step,
            case_events.c.detail,
            bad_cases.c.case_no,
            bad_cases.c.window,
            bad_cases.c.department,
        )
        .select_from(case_events.join(bad_cases, bad_cases.c.id == case_events.c.case_id))
        .where(case_events.c.step.in_(REPORTED_STEPS), case_events.c.at >= start, case_events.c.at < end)
    )
    return conn.execute(query).all()


def appeal_outcomes(conn: Connection, start: str, end: str) -> list:
    """Appeal outcomes decided (or reviewed) in [start, end): a written report (篇10) once the hall's 复核 confirmed
    it (or a supervisor reversed the 复核 either way); a report the 复核 found unfounded stays in the hall and is not
    sent. Appeals filed under the former rules are sent as before, upheld or rejected."""
    decided = func.coalesce(appeals.c.reviewed_at, appeals.c.decided_at)
    kept_in_hall = and_(
        appeals.c.filed_under == "report",
        appeals.c.status == "rejected",
        func.coalesce(appeals.c.review_outcome, "") != "reversed",
    )
    query = (
        select(
            appeals.c.id,
            appeals.c.status,
            appeals.c.category,
            appeals.c.filed_under,
            appeals.c.decided_at,
            appeals.c.reviewed_at,
            appeals.c.review_outcome,
            appeals.c.decision_note,
            appeals.c.review_note,
            bad_cases.c.case_no,
            bad_cases.c.department,
        )
        .select_from(appeals.join(bad_cases, bad_cases.c.id == appeals.c.case_id))
        .where(appeals.c.status.in_(("upheld", "rejected")), ~kept_in_hall, decided >= start, decided < end)
    )
    return conn.execute(query).all()


# ---------------------------------------------------------------- the queue


def queued_keys(conn: Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        query = select(upstream_items.c.item_key).where(upstream_items.c.item_key.in_(keys[i : i + 500]))
        found.update(conn.execute(query).scalars())
    return found


def enqueue(store: Store, conn: Connection, items: list[tuple[dict, str, str]], now_iso: str) -> int:
    """Queue (item, source id, China day) once per item id; returns how many were new."""
    queued = queued_keys(conn, [item["id"] for item, _, _ in items])
    new = list({item["id"]: (item, source, day) for item, source, day in items if item["id"] not in queued}.values())
    if not new:
        return 0
    rows = [
        {
            "item_key": item["id"],
            "kind": item["kind"],
            "source_id": source_id,
            "day": day,
            "body": json.dumps(item, ensure_ascii=False, sort_keys=True),
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": now_iso,
            "created_at": now_iso,
        }
        for item, source_id, day in new
    ]
    conn.execute(store.insert(upstream_items).on_conflict_do_nothing(index_elements=["item_key"]), rows)
    return len(rows)


def lease(store: Store, owner: str, now_iso: str, until_iso: str, limit: int) -> list:
    """Lease up to ``limit`` due items to ``owner``; returns (id, body) rows."""
    with store.write() as conn:
        ids = leases.lease_due(conn, upstream_items, owner, now_iso, until_iso, limit)
        if not ids:
            return []
        query = select(upstream_items.c.id, upstream_items.c.item_key, upstream_items.c.body, upstream_items.c.attempts)
        return conn.execute(
            query.where(upstream_items.c.id.in_(ids), leases.held_by(upstream_items, owner)).order_by(
                upstream_items.c.id
            )
        ).all()


def record_outcomes(store: Store, owner: str, outcomes: list[dict], now_iso: str) -> int:
    """Write back each item's outcome (only while this owner holds it) and its receipt; returns rows written.

    An outcome: ``id``, ``outcome`` (accepted | rejected | failed), ``http_status``, ``code``, ``message``,
    ``next_attempt_at`` (failed), ``attempts``."""
    if not outcomes:
        return 0
    held = (upstream_items.c.id == bindparam("_id")) & leases.held_by(upstream_items, owner)
    done = {
        ACCEPTED: dict(state=ACCEPTED, accepted_at=now_iso, code=None, message=None),
        REJECTED: dict(state=REJECTED, code=bindparam("_code"), message=bindparam("_message")),
        "failed": dict(next_attempt_at=bindparam("_next"), message=bindparam("_message")),
    }
    with store.write() as conn:
        for outcome, values in done.items():
            group = [o for o in outcomes if o["outcome"] == outcome]
            if group:
                statement = (
                    update(upstream_items)
                    .where(held)
                    .values(
                        **values, attempts=bindparam("_attempts"), sent_at=now_iso, lease_owner=None, lease_until=None
                    )
                )
                conn.execute(statement, [_params(o) for o in group])
        conn.execute(
            upstream_receipts.insert(),
            [
                {
                    "item_id": o["id"],
                    "at": now_iso,
                    "outcome": o["outcome"],
                    "http_status": o.get("http_status"),
                    "code": o.get("code"),
                    "message": (o.get("message") or "")[:500] or None,
                }
                for o in outcomes
            ],
        )
    return len(outcomes)


def _params(o: dict) -> dict:
    return {
        "_id": o["id"],
        "_attempts": o["attempts"],
        "_code": o.get("code"),
        "_message": (o.get("message") or "")[:500] or None,
        "_next": o.get("next_attempt_at"),
    }


def resend(conn: Connection, item_id: int, now_iso: str) -> bool:
    """Put a rejected item back in the queue, due now; False when there is no such rejected item."""
    result = conn.execute(
        update(upstream_items)
        .where(upstream_items.c.id == item_id, upstream_items.c.state == REJECTED)
        .values(state=PENDING, next_attempt_at=now_iso, attempts=0, code=None, message=None)
    )
    return result.rowcount == 1


# ---------------------------------------------------------------- reading


def counts_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(upstream_items.c.state, func.count()).group_by(upstream_items.c.state)).all()
    return {state: 0 for state in STATES} | dict(rows)


def counts_by_day(conn: Connection, first_day: str) -> list:
    """(day, state, count) from ``first_day`` on, newest first."""
    query = (
        select(upstream_items.c.day, upstream_items.c.state, func.count())
        .where(upstream_items.c.day >= first_day)
        .group_by(upstream_items.c.day, upstream_items.c.state)
        .order_by(upstream_items.c.day.desc())
    )
    return conn.execute(query).all()


def rejected(conn: Connection, limit: int = 200) -> list:
    query = select(upstream_items).where(upstream_items.c.state == REJECTED)
    return conn.execute(query.order_by(upstream_items.c.id.desc()).limit(limit)).all()


def items_of_day(conn: Connection, day: str) -> dict[str, str]:
    """Item id → state of every item queued for ``day``."""
    query = select(upstream_items.c.item_key, upstream_items.c.state).where(upstream_items.c.day == day)
    return dict(conn.execute(query).all())


def receipts_of(conn: Connection, item_id: int) -> list:
    query = select(upstream_receipts).where(upstream_receipts.c.item_id == item_id)
    return conn.execute(query.order_by(upstream_receipts.c.id)).all()


def item(conn: Connection, item_id: int):
    return conn.execute(select(upstream_items).where(upstream_items.c.id == item_id)).first()


def failing(conn: Connection, limit: int = 50) -> list:
    """Items still waiting whose last attempt failed (the reason is kept until the next attempt)."""
    query = select(upstream_items).where(upstream_items.c.state == PENDING, upstream_items.c.message.is_not(None))
    return conn.execute(query.order_by(upstream_items.c.next_attempt_at).limit(limit)).all()
