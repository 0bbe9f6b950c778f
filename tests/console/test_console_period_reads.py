"""The console's figures read from rollups and bounded reads equal the same figures counted record by record, on
SQLite and PostgreSQL: the 差评处理 rates (from ``handling_rollup``, kept by the database on every write of a
handling record) and its cards (counted by the database, the earliest few listed), for whole months, partial months,
a year, a department and a reviewer's scope."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select, update

from sync_server.console.accounts import Scope
from sync_server.storage.rollups import china_day
from sync_server.storage.schema import (
    REVISIT_SUMS,
    appeals,
    bad_cases,
    case_revisits,
    handling_rollup,
    handling_rollup_month,
)
from sync_server.workflow.deadlines import PENDING_STEP, RED, YELLOW, calendar_of, step_dues
from sync_server.workflow.machine import State
from sync_server.workflow.stats import Handling, _count, handling, line_of

TODAYS = (date(2026, 11, 27), date(2026, 10, 9))
PERIODS = (
    (date(2026, 11, 1), date(2026, 11, 30)),  # a whole month
    (date(2026, 11, 1), date(2026, 11, 27)),  # this month so far
    (date(2026, 10, 5), date(2026, 11, 12)),  # partial months on both ends
    (date(2025, 11, 28), date(2026, 11, 27)),  # the year the bench generates
)
SCOPES = (
    (Scope(), None),
    (Scope(), "D03"),
    (Scope(department="D05", windows=frozenset({"W050", "W051", "W052"})), "D05"),
)


@pytest.fixture
def generated(db_url):
    """A year of 4,000 bench ratings with their 差评工单 in every state; some records then lose a kept deadline (as
    in a year whose holiday schedule was not confirmed), which moves them between buckets."""
    from bench.console import generate
    from sync_server.db import Store

    generate(db_url, 4000)
    store = Store.from_url(db_url)
    seed = random.randrange(1_000_000)
    print(f"seed {seed}")
    rng = random.Random(seed)
    with store.write() as conn:
        for has, unkept in (
            (bad_cases.c.fix_kind.is_not(None), {"fix_due": None}),
            (bad_cases.c.fixed_at.is_not(None), {"revisit_due": None}),
            (bad_cases.c.id.is_not(None), {"contact_due": None}),
        ):
            ids = sorted(conn.execute(select(bad_cases.c.id).where(has)).scalars())
            conn.execute(update(bad_cases).where(bad_cases.c.id.in_(rng.sample(ids, 20))).values(**unkept))
        _revisit_some(conn, rng)
    yield store
    store.dispose()


ANSWERS = (("phone", "satisfied"), ("sms", "basically"), ("phone", "unsatisfied"), ("unreached", None))


def _revisit_some(conn, rng: random.Random) -> None:
    """回访 for some records (through the storage function the workflow uses), one of them twice (a 不满意 that
    reopened it first), so that what the 回访 recorded is in the figures."""
    from sync_server.storage.revisits import add_revisit

    owed = select(bad_cases.c.id).where(bad_cases.c.revisit_from.is_not(None) | bad_cases.c.visited_at.is_not(None))
    ids = sorted(conn.execute(owed).scalars())
    for n, case_id in enumerate(rng.sample(ids, min(60, len(ids)))):
        rounds = [("phone", "unsatisfied", "reopened")] if n % 7 == 0 else []
        method, answer = ANSWERS[n % len(ANSWERS)]
        for r, (how, said, outcome) in enumerate([*rounds, (method, answer, "revisited")], 1):
            add_revisit(
                conn, case_id=case_id, round=r, due=None, done_at="2026-11-20T02:00:00.000+00:00", actor="huifang",
                role="revisitor", method=how, answer=said, note="电话回访", outcome=outcome,
            )  # fmt: skip


def test_handling_figures_from_rollups_equal_the_records_counted_one_by_one(generated):
    seen = Counter()
    with generated.read() as conn:
        rows = conn.execute(_rows()).all()
        revisits = conn.execute(select(case_revisits)).all()
        for today in TODAYS:
            for first, last in PERIODS:
                for scope, department in SCOPES:
                    got = handling(conn, scope, first, last, department, today)
                    expected = _counted_one_by_one(conn, rows, scope, first, last, department, today, revisits)
                    assert _figures(got) == _figures(expected), (today, first, last, department)
                    seen.update(red=bool(got.red), yellow=bool(got.yellow), late=got.fix_judged > got.fixed_on_time)
                    seen.update(answered=got.answered > 0, reopened=got.reopened > 0, unreached=got.unreached > 0)
                    listed = handling(conn, scope, first, last, department, today, cards=10)
                    assert _figures(listed)[:-2] == _figures(expected)[:-2]
                    assert _ids(listed.red) == _ids(expected.red)[:10]
                    assert _ids(listed.yellow) == _ids(expected.yellow)[:10]
    assert seen["red"] and seen["yellow"] and seen["late"]  # the data has red and yellow cards and late fixes
    assert seen["answered"] and seen["reopened"] and seen["unreached"]  # and 回访 of every kind


def test_each_clerks_bad_ratings_by_finding_from_rollups_equal_the_records_counted(generated):
    from sync_server.workflow.stats import bad_by_clerk

    with generated.read() as conn:
        rows = conn.execute(select(bad_cases)).all()
        for (first, last), (scope, department) in [(p, s) for p in PERIODS for s in SCOPES]:
            expected: dict[str, Counter] = {}
            for r in rows:
                arrived = first.isoformat() <= r.arrival_day <= last.isoformat()
                if not arrived or r.state == "withdrawn" or not scope.allows_window(r.window):
                    continue
                if department and r.department != department:
                    continue
                finding = (
                    "appealed_away"
                    if r.state == "upheld"
                    else "verified"
                    if r.fix_kind
                    else "unfounded"
                    if r.verified_at
                    else "unverified"
                )
                expected.setdefault(r.clerk_no or "", Counter())[finding] += 1
            got = bad_by_clerk(conn, scope, first, last, department)
            assert {k: Counter({f: n for f, n in vars(v).items() if n}) for k, v in got.items()} == expected
            assert expected


def test_the_rollups_hold_each_record_in_its_bucket_after_every_write_and_after_the_migration(generated):
    from alembic import command
    from alembic.config import Config

    from sync_server.db import ALEMBIC_DIR

    assert _held(generated) == _bucketed(generated)  # kept by the triggers through the bench's load and updates
    with generated.write() as conn:  # one record through its next steps, one moved to another window
        conn.execute(
            update(bad_cases)
            .where(bad_cases.c.state == "pending")
            .values(
                state="rectifying", fix_kind="simple", verified_at="2026-11-26T02:00:00.000+00:00", fix_due="2026-12-03"
            )
        )
        conn.execute(update(bad_cases).where(bad_cases.c.id == 3).values(window="W099", department=None))
    assert _held(generated) == _bucketed(generated)
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    with generated.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")  # the revision before the handling rollups
        command.upgrade(cfg, "head")
        conn.commit()
    assert _held(generated) == _bucketed(generated)  # filled from the stored records by the migration


# ---------------------------------------------------------------- the figures counted record by record


def _rows():
    return select(bad_cases, appeals.c.return_state, appeals.c.status.label("appeal_status")).select_from(
        bad_cases.outerjoin(appeals, appeals.c.case_id == bad_cases.c.id)
    )


def _counted_one_by_one(conn, rows, scope, first, last, department, today, revisits) -> Handling:
    """What the dashboard showed before the rollups: every unfinished record's card (from its kept deadline, or
    worked out), and the rates of every record that arrived in the period."""
    from sync_server.configs import current_rules

    rules, calendar = current_rules(conn).deadlines, calendar_of(conn)
    cutoff = calendar.add_working_days(today, rules.yellow_card_days + 1).due
    figures = Handling()
    for row in rows:
        if not scope.allows_window(row.window) or (department and row.department != department):
            continue
        if row.state not in ("closed", "upheld", "withdrawn"):
            line = line_of(row, today, rules, calendar)
            kept = _kept_due(row)
            card = line.card if kept is None else (RED if kept < today else YELLOW if kept < cutoff else None)
            if card:
                (figures.red if card == RED else figures.yellow).append((kept or line.due.due, row.id))
        if first.isoformat() <= row.arrival_day <= last.isoformat():
            if _unkept(row):
                _count(figures, line_of(row, today, rules, calendar), today)
            else:
                _count_kept(figures, row, today)
            _count_revisit(figures, row, today, rules, calendar)
            _count_answers(figures, row, [r for r in revisits if r.case_id == row.id])
    figures.red.sort()
    figures.yellow.sort()
    figures.red_count, figures.yellow_count = len(figures.red), len(figures.yellow)
    return figures


def _kept_due(row) -> date | None:
    state = State(row.return_state) if row.state == "appealing" and row.return_state else State(row.state)
    step = PENDING_STEP.get(state)
    if step is None:
        return date.max
    kept = getattr(row, f"{step}_due")
    return date.fromisoformat(kept) if kept else None


def _unkept(row) -> bool:
    """A deadline the figures need is not kept on the record."""
    return (
        row.contact_due is None
        or (row.fix_kind is not None and row.fix_due is None)
        or (row.fixed_at is not None and row.revisit_due is None)
    )


def _by_end_of(done: str | None, due: str | None) -> bool:
    return done is not None and due is not None and done < due + "T16:00:00.000+00:00"


def _count_kept(figures: Handling, row, today: date) -> None:
    figures.opened += 1
    if row.state in ("upheld", "withdrawn"):
        figures.appealed_away += row.state == "upheld"
        figures.withdrawn += row.state == "withdrawn"
        return
    day = today.isoformat()
    figures.contact_judged += row.verified_at is not None or row.contact_due < day
    figures.contacted_on_time += _by_end_of(row.verified_at, row.contact_due)
    if row.fix_kind is None:
        figures.unfounded += row.verified_at is not None
        return
    figures.substantiated += 1
    figures.rectified += row.fixed_at is not None
    figures.fix_judged += row.fixed_at is not None or row.fix_due < day
    figures.fixed_on_time += _by_end_of(row.fixed_at, row.fix_due)


def _count_revisit(figures: Handling, row, today: date, rules, calendar) -> None:
    """回访, 属实 and 不属实 alike: due once rectified or explained (``revisit_from``), done when visited."""
    if row.state in ("upheld", "withdrawn") or not (row.revisit_from or row.fixed_at or row.visited_at):
        return
    figures.revisit_due += 1
    figures.visited += row.visited_at is not None
    due = date.fromisoformat(row.revisit_due) if row.revisit_due else None
    if due is None:
        due = next(d.due for d in step_dues(row, rules, calendar) if d.step == "revisit")
    done = date.fromisoformat(china_day(row.visited_at)) if row.visited_at else None
    figures.revisit_judged += done is not None or due < today
    figures.visited_on_time += done is not None and done <= due


def _count_answers(figures: Handling, row, revisits: list) -> None:
    """What every 回访 of a record that counts recorded."""
    if row.state in ("upheld", "withdrawn"):
        return
    for r in revisits:
        figures.answered += r.answer is not None
        figures.satisfied += r.answer in ("satisfied", "basically")
        figures.unsatisfied += r.answer == "unsatisfied"
        figures.unreached += r.method == "unreached"
        figures.reopened += r.outcome == "reopened"


def _figures(h: Handling) -> tuple:
    counts = (h.opened, h.appealed_away, h.withdrawn, h.substantiated, h.unfounded, h.rectified, h.visited)
    counts += (h.fix_judged, h.fixed_on_time, h.contact_judged, h.contacted_on_time, h.revisit_judged)
    counts += (h.revisit_due, h.answered, h.satisfied, h.unsatisfied, h.unreached, h.reopened)
    return counts + (h.visited_on_time, h.red_count, h.yellow_count, _ids(h.red), _ids(h.yellow))


def _ids(lines) -> list[int]:
    return [x[1] if isinstance(x, tuple) else x.case.id for x in lines]


# ---------------------------------------------------------------- the rollups against the records


def _held(store) -> dict:
    out = {}
    with store.read() as conn:
        for table, period in ((handling_rollup, "day"), (handling_rollup_month, "month")):
            for r in conn.execute(select(table).where(table.c.n != 0)):
                out[(period, *r[: -1 - len(REVISIT_SUMS)])] = tuple(r[-1 - len(REVISIT_SUMS) :])
    return out


def _bucketed(store) -> dict:
    """Each record's bucket, worked out in Python from its row."""
    counts: dict[tuple, list[int]] = {}
    with store.read() as conn:
        for r in conn.execute(select(bad_cases)):
            fixing_open = r.fix_kind is not None and r.fixed_at is None and r.fix_due is not None
            progress = (
                int(r.fix_kind is not None),
                int(r.verified_at is not None),
                int(r.fixed_at is not None),
                int(r.visited_at is not None),
                int(_by_end_of(r.verified_at, r.contact_due)),
                int(_by_end_of(r.fixed_at, r.fix_due)),
                int(_by_end_of(r.visited_at, r.revisit_due)),
            )
            owed = bool(r.revisit_from or r.fixed_at or r.visited_at)  # 属实 and 不属实 alike
            revisit = (int(owed), int(r.revisit_due is not None))
            open_dues = (
                r.contact_due if r.verified_at is None and r.contact_due is not None else "",
                r.fix_due if fixing_open else "",
                r.revisit_due if owed and r.visited_at is None and r.revisit_due is not None else "",
            )
            sums = tuple(getattr(r, column) for column in REVISIT_SUMS)
            if r.state in ("upheld", "withdrawn"):  # counted apart: only the state matters
                progress, revisit, open_dues = (0,) * len(progress), (0, 0), ("",) * len(open_dues)
                sums = (0,) * len(sums)
            key = (
                r.department or "",
                r.window or "",
                r.clerk_no or "",
                r.state,
                *progress,
                int(not _unkept(r)),
                *revisit,
                *open_dues,
            )
            for bucket in (("day", r.arrival_day, *key), ("month", r.arrival_day[:7], *key)):
                totals = counts.setdefault(bucket, [0] * (1 + len(sums)))
                for i, v in enumerate((1, *sums)):
                    totals[i] += v
    return {bucket: tuple(totals) for bucket, totals in counts.items()}


def test_the_trend_by_month_from_monthly_buckets_equals_the_days_added_up(generated):
    """A year by month reads the whole months from the monthly rollups and the partial ones by day: the same
    figures as every day of the trend rollups added up month by month."""
    from sync_server.console.metrics import Figures, bucket_of, dashboard

    def fields(f: Figures) -> tuple:
        return (f.n, f.good, f.bad, f.level_sum, f.active_n, f.active_good, f.prompted, f.rated, f.default_only)

    with generated.read() as conn:
        for (first, last), department in [(p, d) for p in PERIODS for d in (None, "D03")]:
            by_month = dashboard(conn, Scope(), first, last, department, "month").trend
            by_day = dashboard(conn, Scope(), first, last, department, "day").trend
            added: dict[str, tuple] = {}
            for day, f in by_day:
                month = bucket_of(day, "month")
                added[month] = tuple(a + b for a, b in zip(added.get(month, (0,) * 9), fields(f), strict=True))
            assert [(k, fields(f)) for k, f in by_month] == sorted(added.items()), (first, last, department)
            assert sum(f.n for _, f in by_month) > 0
