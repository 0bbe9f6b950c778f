"""The rollups kept at ingest equal ``hcp server rollup rebuild`` after every arrival, whatever order a case's
kiosk prompt, kiosk rating, timeout, phone (QR) rating and default rating reach the server in, on both databases;
and a 差评工单 stays open for exactly the bad ratings that count.

Hypothesis draws the cases (two terminals, a few cases each), what each case gets and the order of arrival; kiosk
records may come in one batch or several. Every example starts from an empty, migrated database. The draw is
derandomized (the same examples on every run); a failure prints the falsifying example.
"""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import CONFIG_DIR, _truncate_pg, kept_and_rebuilt_rollups
from sqlalchemy import select
from testkit import ChainedRecords

from haochaping.qrtoken import make_token

BASE = datetime(2026, 3, 2, 15, 40, tzinfo=UTC)  # 23:40 in China: a case's records may fall on two China days
WINDOWS = ("A01", "B03")
CLERKS = ("1001", "1003")
MATTERS = ("11450102MB1234567X4000111", "11450102MB7654321Y3000201")

case_plans = st.fixed_dictionaries(
    {
        "device": st.integers(0, 1),
        "prompt": st.booleans(),
        "kiosk": st.sampled_from(["rating", "timeout", "none"]),
        "kiosk_level": st.integers(1, 5),
        "test": st.booleans(),
        "phone_level": st.none() | st.integers(1, 5),
    }
)


@st.composite
def scenarios(draw):
    """Cases, then the arrival order: kiosk records (a batch may carry several of one terminal), phone ratings and
    one default-rating run, shuffled."""
    plans = draw(st.lists(case_plans, min_size=1, max_size=4))
    arrivals = []
    for i, plan in enumerate(plans):
        if plan["prompt"]:
            arrivals.append(("kiosk", i, "prompt"))
        if plan["kiosk"] != "none":
            arrivals.append(("kiosk", i, plan["kiosk"]))
        if plan["phone_level"] is not None:
            arrivals.append(("phone", i, None))
    arrivals.append(("default", None, None))
    order = draw(st.permutations(arrivals))
    joins = draw(st.lists(st.booleans(), min_size=len(order), max_size=len(order)))
    return plans, _batches(order, joins, plans)


def _batches(order, joins, plans) -> list[list]:
    """Consecutive kiosk records of one terminal join the batch before them where ``joins`` says so."""
    out: list[list] = []
    for arrival, join in zip(order, joins, strict=True):
        last = out[-1] if out else None
        same_device = last and last[0][0] == "kiosk" and arrival[0] == "kiosk"
        if same_device and join and plans[last[0][1]]["device"] == plans[arrival[1]]["device"]:
            last.append(arrival)
        else:
            out.append([arrival])
    return out


def test_kept_rollups_equal_a_rebuild_in_any_order_of_arrival(db_url, request, tmp_path):
    from sync_server.configs import import_config
    from sync_server.db import Store, migrate

    counter = itertools.count()

    def fresh_store() -> Store:
        if db_url.startswith("sqlite"):
            path = tmp_path / f"example-{next(counter)}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            store = Store.from_url(f"sqlite:///{path}")
        else:
            _truncate_pg(db_url)
            store = Store.from_url(db_url)
        migrate(store)
        import_config(store, CONFIG_DIR, "rules/guangxi.toml", BASE - timedelta(days=1))
        return store

    @settings(
        max_examples=40 if db_url.startswith("sqlite") else 20,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scenarios())
    def check(scenario):
        store = fresh_store()
        try:
            _play(store, *scenario)
        finally:
            store.dispose()

    check()


def _play(store, plans: list[dict], batches: list[list]) -> None:
    from sync_server.devices import add_enrolment_code, enrol

    terminals = []
    for window in WINDOWS:
        code, _ = add_enrolment_code(store, window, BASE)
        device = enrol(store, code, BASE)
        terminals.append((device, ChainedRecords(device.id, window)))
    made = _kiosk_records(plans, terminals)
    now = BASE + timedelta(hours=1)
    for step, batch in enumerate(batches):
        kind = batch[0][0]
        if kind == "default":
            now += timedelta(days=8)  # past default_rating_after_days: every unrated prompted case gets one
            _default_ratings(store, now)
        elif kind == "phone":
            case = batch[0][1]
            _phone_rating(store, terminals[plans[case]["device"]][0], f"C{case}", plans[case]["phone_level"], now)
        else:
            device = terminals[plans[batch[0][1]]["device"]][0]
            _ingest(store, device, [made[(case, what)] for _kind, case, what in batch], now)
        now += timedelta(minutes=1)
        kept, rebuilt = kept_and_rebuilt_rollups(store)
        assert kept == rebuilt, f"after arrival {step + 1} of {len(batches)}: {batch}"
        opened, counting_bad = _handling_records(store)
        assert opened == counting_bad, f"差评工单 after arrival {step + 1} of {len(batches)}: {batch}"


def _kiosk_records(plans: list[dict], terminals) -> dict:
    """Every kiosk record of the scenario, made in time order per terminal (one chain each)."""
    made = {}
    for i, plan in enumerate(plans):
        _device, chain = terminals[plan["device"]]
        at = BASE + timedelta(minutes=7 * i)
        case = {"case_no": f"C{i}", "clerk_no": CLERKS[i % 2], "matter_code": MATTERS[i % 2]}
        if plan["prompt"]:
            made[(i, "prompt")] = chain.record("prompt", at, **case)
        if plan["kiosk"] == "rating":
            level = plan["kiosk_level"]
            made[(i, "rating")] = chain.record(
                "rating",
                at + timedelta(seconds=30),
                **case,
                level=level,
                reasons=[level * 100 + 13] if level <= 2 else [],
                prompted_at=made[(i, "prompt")]["occurred_at"] if plan["prompt"] else None,
                detail={"test": True} if plan["test"] else {},
            )
        elif plan["kiosk"] == "timeout":
            made[(i, "timeout")] = chain.record("timeout", at + timedelta(seconds=60), case_no=f"C{i}")
    return made


def _ingest(store, device, records: list[dict], now: datetime) -> None:
    from sync_server.ingest import ingest

    results = ingest(store, device.id, records, now, device.window)
    assert [status for _id, status in results] == ["stored"] * len(records)


def _phone_rating(store, device, case_no: str, level: int, now: datetime) -> None:
    """What the QR page does on a submit, without HTTP: verify the token, check the form, store the rating."""
    from sync_server.qrpage import PageProblem, load_case, parse_form, store_rating

    token = make_token(device.id, case_no, BASE + timedelta(minutes=1), device.secret)
    try:
        with store.write() as conn:
            view = load_case(conn, token, now)
            reasons = [str(r.code) for r in view.config.reasons.for_level(level)][:1] if level <= 2 else []
            store_rating(store, conn, view, parse_form(view, str(level), reasons, ""), now)
    except PageProblem as problem:  # expired (the default run moved time on) or already rated: nothing stored
        assert problem.status in (409, 410)


def _default_ratings(store, now: datetime) -> None:
    from sync_server.ratings import apply_default_ratings

    apply_default_ratings(store, now)


def _handling_records(store) -> tuple[set, set]:
    """The ratings with a 差评工单 not withdrawn, and the bad ratings (not tests) that count: the same set."""
    from sync_server.storage.schema import bad_cases, ratings, records

    with store.read() as conn:
        opened = set(conn.execute(select(bad_cases.c.record_id).where(bad_cases.c.state != "withdrawn")).scalars())
        query = (
            select(records.c.id, records.c.detail)
            .join(ratings, ratings.c.record_id == records.c.id)
            .where(ratings.c.role == "counting", records.c.level <= 2)
        )
        counting_bad = {r.id for r in conn.execute(query) if '"test": true' not in r.detail}
    return opened, counting_bad
