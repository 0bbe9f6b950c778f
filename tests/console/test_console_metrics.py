"""Dashboard figures on SQLite and PostgreSQL, checked against the hand-made month of ``conftest.py``:
effective vs excluded vs superseded vs follow-up vs test vs default ratings, and 参评率/未评率 of prompted cases."""

from __future__ import annotations

from datetime import date

import pytest
from console_helpers import at, seed_hall
from sqlalchemy import select

from sync_server.console.accounts import Scope, scope_for
from sync_server.console.errors import RoleForbidden
from sync_server.console.metrics import dashboard, month_spans, ranking, repeated_bad, unverified_bad
from sync_server.storage.exclusions import exclude_rating, lift_exclusion
from sync_server.storage.rollups import rebuild
from sync_server.storage.schema import (
    case_rollup,
    case_rollup_month,
    case_trend,
    rating_rollup,
    rating_rollup_month,
    rating_trend,
)
from sync_server.workflow.stats import bad_by_clerk

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def board(store, scope: Scope | None = None, department=None, granularity="day"):
    with store.read() as conn:
        return dashboard(conn, scope or Scope(), *NOV, department, granularity)


def test_hall_figures_count_only_effective_ratings(store):
    seed_hall(store, with_users=False)
    b = board(store)
    t = b.total
    assert (t.n, t.good, t.bad) == (11, 9, 2)
    assert t.good_rate == pytest.approx(9 / 11)  # 好评率 81.8%
    assert (t.active_n, t.active_good) == (10, 8)  # 主动评价好评率 leaves the default rating of C11 out
    assert t.active_good_rate == pytest.approx(0.8)
    assert t.bad_rate == pytest.approx(2 / 11)
    assert t.mean_level == pytest.approx(43 / 11)
    assert t.by_level == {5: 5, 4: 3, 3: 1, 2: 1, 1: 1}
    assert dict(b.left_out) == {"excluded": 1, "follow_up": 1, "test": 1, "superseded": 1}
    assert dict(b.by_channel) == {4: 8, 3: 2, 0: 1}


def test_participation_counts_prompted_cases_timeouts_and_default_only_as_unrated(store):
    seed_hall(store, with_users=False)
    t = board(store).total
    assert (t.prompted, t.rated, t.unrated, t.default_only) == (14, 12, 2, 1)
    assert t.participation_rate == pytest.approx(12 / 14)
    assert t.unrated_rate == pytest.approx(2 / 14)


def test_tables_by_department_window_clerk_and_matter(store):
    seed_hall(store, with_users=False)
    b = board(store)
    sc, rs, bdc = b.by_department["SC"], b.by_department["RS"], b.by_department["BDC"]
    assert (sc.n, sc.good, sc.bad, sc.prompted, sc.rated) == (6, 5, 1, 8, 7)
    assert (rs.n, rs.good, rs.bad, rs.active_n, rs.active_good) == (3, 2, 1, 2, 1)
    assert (bdc.n, bdc.good) == (2, 2)
    assert b.by_window["A01"].n == 6
    assert (b.by_clerk["1001"].n, b.by_clerk["1002"].n, b.by_clerk["1003"].n) == (4, 2, 3)
    assert b.by_matter["11450102MB5555555Z2000301"].mean_level == pytest.approx(4.5)


def test_rankings_need_the_minimum_number_of_ratings(store):
    seed_hall(store, with_users=False)
    b = board(store)
    # ranked on 主动评价: B03 and C05 have 2 each (B03's third is a 系统默认评价)
    assert [k for k, _ in ranking(b.by_window, min_ratings=3)] == ["A01"]
    # 1002 and 1004: 2 of 2 good each, no verified 差评: by code
    assert [k for k, _ in ranking(b.by_clerk, min_ratings=2)] == ["1002", "1004", "1001", "1003"]
    with store.read() as conn:
        bad = bad_by_clerk(conn, Scope(), *NOV, None)
    assert repeated_bad(bad, threshold=1) == []  # no 差评 verified 属实 yet
    assert [(k, b.unverified) for k, b in unverified_bad(bad)] == [("1001", 1), ("1002", 1), ("1003", 1)]


def test_trend_per_week_adds_up_to_the_total(store):
    seed_hall(store, with_users=False)
    b = board(store, granularity="week")
    assert sum(f.n for _, f in b.trend) == 11
    assert sum(f.prompted for _, f in b.trend) == 14
    assert b.trend[0][0] == "2026-10-26"  # the Monday of the week holding 1 November


def test_lifting_an_exclusion_counts_the_rating_again_and_excluding_leaves_it_out(store):
    hall = seed_hall(store, with_users=False)
    with store.write() as conn:
        assert lift_exclusion(conn, hall.ids["C7"], at(26, 9)) == 1
    b = board(store)
    assert (b.total.n, b.total.bad) == (12, 3)
    assert "excluded" not in {k for k, v in b.left_out.items() if v}
    with store.write() as conn:
        exclude_rating(conn, hall.ids["C10"], "申诉成立", at(27, 9))
    b = board(store)
    assert (b.total.n, b.total.bad, b.left_out["excluded"]) == (11, 2, 1)
    assert b.by_department["RS"].n == 2


def test_the_rollup_kept_by_ingest_equals_a_rebuild_from_the_stored_rows(store):
    seed_hall(store, with_users=False)

    def snapshot():
        out = {}
        with store.read() as conn:
            for table in (rating_rollup, rating_rollup_month, rating_trend):
                out[table.name] = {tuple(r[:-1]): r[-1] for r in conn.execute(select(table)) if r[-1]}
            for table, dims in ((case_rollup, 5), (case_rollup_month, 5), (case_trend, 2)):
                out[table.name] = {
                    tuple(r[:dims]): tuple(r[dims:]) for r in conn.execute(select(table)) if any(r[dims:])
                }
        return out

    kept = snapshot()
    with store.write() as conn:
        assert rebuild(conn) > 0
    assert snapshot() == kept


def test_a_reviewer_sees_only_its_department_and_cannot_ask_for_another(store):
    from sync_server.configs import current_config

    seed_hall(store, with_users=False)
    with store.read() as conn:
        hall_config = current_config(conn).config.hall
    sc = scope_for("reviewer", "SC", hall_config)
    b = board(store, scope=sc)
    assert b.department == "SC"
    assert set(b.by_department) == {"SC"} and b.total.n == 6
    with pytest.raises(RoleForbidden):
        board(store, scope=sc, department="RS")


def test_a_period_inside_the_month_reads_the_daily_rollups(store):
    seed_hall(store, with_users=False)
    with store.read() as conn:
        assert month_spans(conn, date(2026, 11, 2), date(2026, 11, 4)) == ([], [(date(2026, 11, 2), date(2026, 11, 4))])
        b = dashboard(conn, Scope(), date(2026, 11, 2), date(2026, 11, 4))
    # rated on 2–4 Nov: C1 5, C2 5, C9 4, C3 4, C4 3, C10 2, C5 1 (C12 is a test); prompted: 11 cases, C11 unrated.
    assert (b.total.n, b.total.good, b.total.bad) == (7, 5, 2)
    assert (b.total.prompted, b.total.rated, b.total.default_only) == (11, 10, 1)
    assert dict(b.left_out) == {"test": 1}


def test_this_month_so_far_reads_the_monthly_rollup_unless_later_days_hold_data(store):
    seed_hall(store, with_users=False)
    with store.read() as conn:
        assert month_spans(conn, date(2026, 11, 1), date(2026, 11, 27)) == (["2026-11"], [])
        assert month_spans(conn, date(2026, 11, 1), date(2026, 11, 24)) == (
            [],
            [(date(2026, 11, 1), date(2026, 11, 24))],
        )
        assert month_spans(conn, date(2026, 10, 15), date(2026, 11, 30)) == (
            ["2026-11"],
            [(date(2026, 10, 15), date(2026, 10, 31))],
        )
        assert dashboard(conn, Scope(), date(2026, 11, 1), date(2026, 11, 24)).total.prompted == 13  # C6 on the 25th


def test_the_ratings_list_query_filters_and_pages_the_same_on_both_databases(store):
    from sync_server.configs import current_config
    from sync_server.console.labels import Names
    from sync_server.console.period import Period
    from sync_server.console.ratings_view import RatingFilter, list_ratings

    hall = seed_hall(store, with_users=False)
    with store.read() as conn:
        cv = current_config(conn)
        names = Names.of(cv.config)
        sc = scope_for("reviewer", "SC", cv.config.hall)
        nov = Period(*NOV)
        rows, cursor = list_ratings(conn, RatingFilter(nov), sc, names, None, 5)
        more, end = list_ratings(conn, RatingFilter(nov), sc, names, cursor, 5)
        bad, _ = list_ratings(conn, RatingFilter(nov, department="SC", level="bad"), Scope(), names, None, 50)
    assert len(rows) == 5 and end is None and len(more) == 3  # A01: 7 kiosk ratings and the phone 追评
    assert {r.window for r in rows + more} == {"A01"}
    assert {r.id for r in bad} == {hall.ids["C5"], hall.ids["C7"]}
