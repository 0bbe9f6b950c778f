"""Storage of 回访: every 回访 of a 差评工单 (how the citizen was reached, their answer, the note, whether it
reopened the handling), the 回访 figures of a period (回访率, 回访满意率, on time), and the queue of notices that a
record needs 回访 for the webhook sender (leased, retried with backoff like the webhook's deliveries).

The figures count the records whose rating arrived in the period (as every 差评处理 rate does), records with an
upheld appeal or withdrawn left out:
- due for 回访: the record's 回访 became due (its handling ended: 整改 or 解释说明) and was not reopened since, or a
  回访 ended it (``visited_at``); records closed before 回访 was a step for every record are not due;
- 回访 done: ``visited_at`` is set (the 回访 that ended the handling, 未能联系 included);
- on time: done by the kept deadline; judged when done, or overdue and not done;
- answers: every 回访 with an answer (满意, 基本满意, 不满意), a 不满意 that reopened the handling included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select, update

from sync_server.storage import leases
from sync_server.storage.handling_reads import revisit_period_counts
from sync_server.storage.schema import REVISIT_UNKEPT, bad_cases, case_revisits, revisit_notices

APART = ("upheld", "withdrawn")
SATISFIED = ("satisfied", "basically")
PENDING, DELIVERED = leases.PENDING, leases.DELIVERED


# ---------------------------------------------------------------- the 回访 themselves


def add_revisit(conn: Connection, **row) -> int:
    """Keep one 回访 (inside the step's transaction), and count what it recorded on its record, from where the
    handling rollups add it up (the record's bucket moves with it); returns its id."""
    revisit_id = conn.execute(case_revisits.insert().values(**row)).inserted_primary_key[0]
    c, answer = bad_cases.c, row.get("answer")
    counted = {
        "revisits_answered": answer is not None,
        "revisits_satisfied": answer in SATISFIED,
        "revisits_unsatisfied": answer == "unsatisfied",
        "revisits_unreached": row.get("method") == "unreached",
        "revisits_reopened": row.get("outcome") == "reopened",
    }
    more = {column: c[column] + 1 for column, yes in counted.items() if yes}
    if more:
        conn.execute(update(bad_cases).where(c.id == row["case_id"]).values(**more))
    return revisit_id


def revisits_of(conn: Connection, case_id: int) -> list:
    """A record's 回访, first first."""
    query = select(case_revisits).where(case_revisits.c.case_id == case_id).order_by(case_revisits.c.id)
    return conn.execute(query).all()


# ---------------------------------------------------------------- the figures of a period


@dataclass
class RevisitCounts:
    due: int = 0  # records due for 回访
    done: int = 0  # of them, 回访 done
    judged: int = 0  # on time: done, or overdue and not done
    on_time: int = 0
    answered: int = 0  # 回访 with an answer
    satisfied: int = 0  # 满意 + 基本满意
    unsatisfied: int = 0
    unreached: int = 0  # 回访 recorded 未能联系
    reopened: int = 0  # 回访 that reopened the handling


def period_counts(
    conn: Connection, scope, first: date, last: date, department: str | None, today: date
) -> RevisitCounts:
    """The 回访 figures of the records that arrived from ``first`` to ``last`` (China dates), added up from the
    period's handling rollup buckets (``handling_reads.revisit_period_counts``), never from the records; on time
    only for records whose 回访 deadline is kept (``unkept_rows`` gives the others)."""
    totals = revisit_period_counts(conn, scope, first, last, department, today)
    return RevisitCounts(**totals)


def unkept_rows(conn: Connection, scope, arrived: tuple[str, str], department: str | None) -> list:
    """Records of the period due for 回访 whose 回访 deadline is not kept (an unconfirmed holiday year): their on-time
    is worked out from the calendar. Read by the partial index ``ix_bad_cases_revisit_unkept``."""
    c = bad_cases.c
    where = [c.arrival_day.between(*arrived), c.state.not_in(APART), REVISIT_UNKEPT]
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(c.window))
    if department:
        where.append(c.department == department)
    return conn.execute(select(bad_cases).where(*where).order_by(c.id)).all()


# ---------------------------------------------------------------- the notices' queue (webhook sender)


def enqueue_notice(conn: Connection, case_id: int, event: str, url: str, body: str, at: str) -> int:
    row = dict(case_id=case_id, event=event, url=url, body=body, state=PENDING, attempts=0, next_attempt_at=at)
    return conn.execute(revisit_notices.insert().values(**row, created_at=at)).inserted_primary_key[0]


def lease_notices(conn: Connection, owner: str, now_iso: str, until_iso: str, limit: int) -> list:
    """Lease due notices to ``owner`` (inside a write transaction) and return them."""
    ids = leases.lease_due(conn, revisit_notices, owner, now_iso, until_iso, limit)
    if not ids:
        return []
    query = select(revisit_notices).where(revisit_notices.c.id.in_(ids), leases.held_by(revisit_notices, owner))
    return conn.execute(query.order_by(revisit_notices.c.id)).all()


def record_attempt(conn: Connection, notice_id: int, owner: str, values: dict) -> None:
    """Write back one attempt's result (``leases.attempt_values``), only while ``owner`` still holds the lease."""
    mine = (revisit_notices.c.id == notice_id) & leases.held_by(revisit_notices, owner)
    conn.execute(update(revisit_notices).where(mine).values(**values))


def notices_of(conn: Connection, case_id: int | None = None, limit: int = 200) -> list:
    query = select(revisit_notices).order_by(revisit_notices.c.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(revisit_notices.c.case_id == case_id)
    return conn.execute(query).all()
