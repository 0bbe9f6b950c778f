"""Reads of the 差评处理 figures: the cards of the unfinished handling records (counts, and the earliest few with
their rows) and the rates of the records that arrived in a period. Each read is bounded by the records waiting for a
deadline in a range of days (a partial index per waiting state) or by the period's rollup buckets, never by the number
of records ever opened.

``scope`` is any object with ``restricted`` and ``window_condition(column)`` (the console's ``Scope``), or None.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, and_, case, func, literal, or_, select

from sync_server.storage.periods import split_months
from sync_server.storage.schema import (
    REVISIT_SUMS,
    UNKEPT_DUES,
    WAITING_DUE,
    appeals,
    bad_cases,
    handling_rollup,
    handling_rollup_month,
    waiting_in,
)

NO_DEADLINE = "9999-12-31"  # 已回访, 已解释说明: 办结 is next, no deadline runs
APPEALING = "appealing"  # an open appeal keeps the clock of the state it returns to


def pending_due():
    """SQL: the kept deadline of the step a record waits for (its return state's while appealing); NULL when that
    deadline is not kept; ``NO_DEADLINE`` for a record that waits for no deadline."""
    state = case((bad_cases.c.state == APPEALING, appeals.c.return_state), else_=bad_cases.c.state)
    whens = [(state == s, bad_cases.c[column]) for s, column in WAITING_DUE.items()]
    return case(*whens, else_=literal(NO_DEADLINE))


def _rows_query(*columns):
    return select(*columns).select_from(bad_cases.outerjoin(appeals, appeals.c.case_id == bad_cases.c.id))


def _in_scope(where: list, scope, department: str | None) -> list:
    """``where`` within the scope and department. The department is compared through ``coalesce`` so that no
    database walks the department's index (every record it ever had) instead of the narrow partial index."""
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(bad_cases.c.window))
    if department:
        where.append(func.coalesce(bad_cases.c.department, "") == department)
    return where


def _waiting():
    """(the waiting records' condition, their kept deadline, whether the appeal is read) per state: each state's
    from its partial index, the few records under an open appeal with the deadline of the state they return to."""
    out = [(waiting_in(state), bad_cases.c[column], False) for state, column in WAITING_DUE.items()]
    return out + [(waiting_in(APPEALING), pending_due(), True)]


def card_counts(conn: Connection, scope, department: str | None, today: date, cutoff: date) -> tuple[int, int]:
    """(red, yellow): unfinished records whose kept pending deadline lies before ``today`` / from ``today`` up to
    (not including) ``cutoff``, the first day without a yellow card. Counted by the database from the deadline
    indexes (no record is read)."""
    red = yellow = 0
    day = today.isoformat()
    for waiting, due, with_appeal in _waiting():
        counts = (
            func.coalesce(func.sum(case((due < day, 1), else_=0)), 0),
            func.coalesce(func.sum(case((due >= day, 1), else_=0)), 0),
        )
        query = _rows_query(*counts) if with_appeal else select(*counts).select_from(bad_cases)
        row = conn.execute(query.where(*_in_scope([waiting, due < cutoff.isoformat()], scope, department))).one()
        red, yellow = red + int(row[0]), yellow + int(row[1])
    return red, yellow


def earliest_carded(
    conn: Connection, scope, department: str | None, since: date | None, before: date, limit: int | None
) -> list:
    """Unfinished records (with their appeal's return state, and their kept pending deadline as ``waiting_due``)
    whose kept pending deadline lies in [since, before), earliest deadline first, then by id; at most ``limit``."""
    rows = []
    for waiting, due, _ in _waiting():
        where = [waiting, due < before.isoformat()]
        if since is not None:
            where.append(due >= since.isoformat())
        query = _rows_query(
            bad_cases, appeals.c.return_state, appeals.c.status.label("appeal_status"), due.label("waiting_due")
        )
        query = query.where(*_in_scope(where, scope, department)).order_by(due, bad_cases.c.id)
        rows += conn.execute(query.limit(limit) if limit is not None else query).all()
    rows.sort(key=lambda row: (row.waiting_due, row.id))
    return rows[:limit] if limit is not None else rows


def unfinished_without_kept_due(conn: Connection, scope, department: str | None) -> list:
    """Unfinished records whose pending deadline is not kept: their card is worked out afresh."""
    rows = []
    for waiting, due, _ in _waiting():
        query = _rows_query(bad_cases, appeals.c.return_state, appeals.c.status.label("appeal_status"))
        rows += conn.execute(query.where(*_in_scope([waiting, due.is_(None)], scope, department))).all()
    return sorted(rows, key=lambda row: row.id)


HANDLING_COUNTS = (
    "opened",
    "appealed_away",
    "withdrawn",
    "substantiated",
    "unfounded",
    "rectified",
    "visited",
    "fix_judged",
    "fixed_on_time",
    "contact_judged",
    "contacted_on_time",
    "revisit_judged",
    "visited_on_time",
)


def kept_period_counts(conn: Connection, scope, first: date, last: date, department, today: date) -> dict[str, int]:
    """The rate counts of the records that arrived from ``first`` to ``last`` (China dates) whose deadlines are
    kept, {name in ``HANDLING_COUNTS``: count}: added up from the monthly buckets of whole months and the daily
    buckets of the other days (``handling_rollup``), never from the records themselves."""
    totals = dict.fromkeys(HANDLING_COUNTS, 0)
    for table, key, lo, hi in _period_reads(conn, first, last):
        row = conn.execute(_rollup_counts(table, today).where(*_rollup_where(table, key, lo, hi, scope, department)))
        for name, n in zip(HANDLING_COUNTS, row.one(), strict=True):
            totals[name] += int(n)
    return totals


def _rollup_counts(table, today: date):
    t, day = table.c, today.isoformat()
    counted = t.state.not_in(["upheld", "withdrawn"])  # the others are counted apart
    fixing = and_(counted, t.fixing == 1)  # 核实属实: a fix is due

    def overdue(open_due):  # a step not done whose kept deadline has passed
        return and_(open_due != "", open_due < day)

    def n(*conditions):
        return func.coalesce(func.sum(case((and_(*conditions), t.n), else_=0)), 0)

    return select(
        func.coalesce(func.sum(t.n), 0),
        n(t.state == "upheld"),
        n(t.state == "withdrawn"),
        n(fixing),
        n(counted, t.fixing == 0, t.verified == 1),
        n(fixing, t.fixed == 1),
        n(fixing, t.visited == 1),
        n(fixing, or_(t.fixed == 1, overdue(t.open_fix_due))),
        n(fixing, t.fix_on_time == 1),
        n(counted, or_(t.verified == 1, overdue(t.open_contact_due))),
        n(counted, t.contact_on_time == 1),
        n(fixing, t.fixed == 1, or_(t.visited == 1, overdue(t.open_revisit_due))),
        n(fixing, t.fixed == 1, t.revisit_on_time == 1),
    )


REVISIT_COUNTS = (
    "due",
    "done",
    "judged",
    "on_time",
    "answered",
    "satisfied",
    "unsatisfied",
    "unreached",
    "reopened",
)


def revisit_period_counts(conn: Connection, scope, first: date, last: date, department, today: date) -> dict:
    """The 回访 counts of the records that arrived from ``first`` to ``last``, 属实 and 不属实 alike, {name in
    ``REVISIT_COUNTS``: count}, added up from the period's buckets: due (its 回访 is due or done), done, judged and
    on time (by the kept 回访 deadline), and what the 回访 recorded."""
    totals = dict.fromkeys(REVISIT_COUNTS, 0)
    for table, key, lo, hi in _period_reads(conn, first, last):
        where = _rollup_where(table, key, lo, hi, scope, department, kept_only=False)
        row = conn.execute(_revisit_counts(table, today).where(*where)).one()
        for name, n in zip(REVISIT_COUNTS, row, strict=True):
            totals[name] += int(n)
    return totals


def _revisit_counts(table, today: date):
    t, day = table.c, today.isoformat()
    counted = t.state.not_in(["upheld", "withdrawn"])  # the others are counted apart
    owed, kept = and_(counted, t.revisit_owed == 1), t.revisit_kept == 1

    def n(*conditions):
        return func.coalesce(func.sum(case((and_(*conditions), t.n), else_=0)), 0)

    return select(
        n(owed),
        n(counted, t.visited == 1),
        n(owed, kept, or_(t.visited == 1, and_(t.open_revisit_due != "", t.open_revisit_due < day))),
        n(counted, kept, t.visited == 1, t.revisit_on_time == 1),
        *(func.coalesce(func.sum(t[column]), 0) for column in REVISIT_SUMS),
    )


def bad_by_clerk(conn: Connection, scope, first: date, last: date, department) -> list[tuple[str, str, int]]:
    """(clerk, finding, count) of the records that arrived from ``first`` to ``last``, withdrawn ones left out;
    finding: appealed_away (an appeal upheld), verified (属实), unfounded (不属实) or unverified. From the handling
    rollups."""
    rows: list[tuple[str, str, int]] = []
    for table, key, lo, hi in _period_reads(conn, first, last):
        t = table.c
        finding = case(
            (t.state == "upheld", literal("appealed_away")),
            (t.fixing == 1, literal("verified")),
            (t.verified == 1, literal("unfounded")),
            else_=literal("unverified"),
        )
        where = _rollup_where(table, key, lo, hi, scope, department, kept_only=False) + [t.state != "withdrawn"]
        query = select(t.clerk_no, finding, func.sum(t.n)).where(*where).group_by(t.clerk_no, finding)
        rows += [(clerk, kind, int(n)) for clerk, kind, n in conn.execute(query) if n]
    return rows


def _period_reads(conn: Connection, first: date, last: date) -> list[tuple]:
    """(table, key column, lo, hi) of the rollup reads of a period: whole months, then the other days."""
    months, day_spans = split_months(first, last, lambda after, until: _stored_between(conn, after, until))
    reads = [(handling_rollup_month, "month", months[0], months[-1])] if months else []
    return reads + [(handling_rollup, "day", a.isoformat(), b.isoformat()) for a, b in day_spans]


def _rollup_where(table, key: str, lo: str, hi: str, scope, department: str | None, kept_only: bool = True) -> list:
    where = [table.c[key] >= lo, table.c[key] <= hi]
    if kept_only:
        where.append(table.c.kept == 1)
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(table.c.window))
    if department:
        where.append(table.c.department == department)
    return where


def _stored_between(conn: Connection, after: date, until: date) -> bool:
    query = select(handling_rollup.c.day).where(
        handling_rollup.c.day > after.isoformat(), handling_rollup.c.day <= until.isoformat(), handling_rollup.c.n != 0
    )
    return conn.execute(query.limit(1)).first() is not None


def unkept_period_rows(conn: Connection, scope, arrived: tuple[str, str], department) -> list:
    """The records that arrived in ``arrived`` with a deadline the figures need that is not kept (worked out
    afresh), read by the partial index ``ix_bad_cases_unkept_dues``."""
    query = _rows_query(bad_cases, appeals.c.return_state, appeals.c.status.label("appeal_status"))
    where = _in_scope([bad_cases.c.arrival_day.between(*arrived), UNKEPT_DUES], scope, department)
    return conn.execute(query.where(*where).order_by(bad_cases.c.id)).all()


def unfinished_bad_ratings(conn: Connection, finished_states: list[str] | None) -> list:
    """(record_id, rated_at) of the counting ratings of level 1–2 that no upheld appeal excludes and whose handling
    record is not in ``finished_states`` (None: no handling records to look at). Bounded by the open 差评."""
    from sync_server.storage.schema import rating_exclusions, ratings

    excluded = select(rating_exclusions.c.record_id).where(rating_exclusions.c.lifted_at.is_(None))
    query = select(ratings.c.record_id, ratings.c.rated_at).where(
        and_(ratings.c.role == "counting", ratings.c.level <= 2, ratings.c.record_id.not_in(excluded))
    )
    if finished_states is not None:  # leave out the finished ones in SQL: a year of them is a long list
        finished = select(bad_cases.c.record_id).where(bad_cases.c.state.in_(finished_states))
        query = query.where(ratings.c.record_id.not_in(finished))
    return conn.execute(query).all()


def count_extended(conn: Connection, scope, arrived: tuple[str, str], department: str | None) -> int:
    """The records that arrived in ``arrived`` (China days, inclusive) with an approved 延期."""
    from sync_server.storage.schema import case_extensions

    c = bad_cases.c
    approved = select(case_extensions.c.case_id).where(case_extensions.c.status == "approved")
    where = [c.arrival_day.between(*arrived), c.id.in_(approved)]
    if scope is not None and scope.restricted:
        where.append(scope.window_condition(c.window))
    if department:
        where.append(c.department == department)
    return conn.execute(select(func.count()).select_from(bad_cases).where(*where)).scalar()
