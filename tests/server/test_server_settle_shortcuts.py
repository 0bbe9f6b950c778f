"""The shortcuts of ingest's hot path give what the plain computation gives: the China day of a time read from its
text, a settled rating's role set without ``_replace``, a stored rating built in one step, the time flags compared
as timedeltas. Hypothesis draws the values (derandomized: the same examples on every run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from haochaping.signing import MAX_SKEW_S
from sync_server.ingest import BACKWARDS_TOLERANCE_S, _time_flags
from sync_server.ratings import _with_role
from sync_server.storage.cases import StoredRating, _stored_rating
from sync_server.storage.rollups import CHINA, china_day

moments = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1))
offsets = st.none() | st.sampled_from([UTC, timezone(timedelta(0)), CHINA, timezone(-timedelta(hours=5))])
specs = st.sampled_from(["auto", "seconds", "milliseconds", "microseconds", "minutes", "hours"])


def converted_day(iso: str) -> str:
    """The China day as ``china_day`` always worked it out: parse, convert, take the date."""
    moment = datetime.fromisoformat(iso)
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).date().isoformat()


@settings(derandomize=True, max_examples=400)
@given(moments, offsets, specs, st.sampled_from("T "))
def test_china_day_is_the_converted_day(moment, tz, spec, sep):
    iso = moment.replace(tzinfo=tz).isoformat(sep=sep, timespec=spec)
    assert china_day(iso) == converted_day(iso)


def test_china_day_of_other_iso_forms():
    for iso in ("2026-11-29T10:00:00Z", "20261129T100000+00:00", "2026-W48-1T10:00:00+00:00", "2026-11-29"):
        assert china_day(iso) == converted_day(iso)


ratings = st.builds(
    StoredRating,
    record_id=st.text(max_size=3),
    case_no=st.text(max_size=3),
    level=st.integers(1, 5),
    channel=st.none() | st.integers(0, 5),
    rated_at=st.text(max_size=3),
    received_at=st.text(max_size=3),
    window=st.none() | st.text(max_size=3),
    clerk_no=st.none() | st.text(max_size=3),
    matter_code=st.none() | st.text(max_size=3),
    detail=st.none() | st.text(max_size=3),
    excluded=st.booleans(),
    role=st.none() | st.sampled_from(["counting", "follow_up", "superseded"]),
    assess_number=st.none() | st.integers(1, 2),
    prompted_at=st.none() | st.text(max_size=3),
    source=st.none() | st.sampled_from(["device", "qr", "default"]),
)


@given(ratings, st.sampled_from(["counting", "follow_up", "superseded"]), st.none() | st.integers(1, 2))
@settings(derandomize=True)
def test_with_role_is_replace(rating, role, number):
    assert _with_role(rating, role, number) == rating._replace(role=role, assess_number=number)


@given(ratings, st.sampled_from([0, 1, True, False]))
@settings(derandomize=True)
def test_stored_rating_is_make_then_replace(rating, excluded):
    row = (*rating[:10], excluded, *rating[11:])  # as the driver gives it: SQLite's 0 or 1
    built = _stored_rating(row)
    assert built == StoredRating._make(row)._replace(excluded=bool(excluded))
    assert type(built.excluded) is bool


@given(st.integers(-(10**8), 10**8), st.integers(-(10**9), 10**9))
@settings(derandomize=True)
def test_time_flags_at_the_edges(back_us, ahead_us):
    """Just over, at and just under the tolerance and the skew, to the microsecond."""
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    at = now + timedelta(microseconds=ahead_us)
    before = at + timedelta(microseconds=back_us)
    rec = {"seq": 2, "occurred_at": at.isoformat(), "prompted_at": None}
    kinds = [kind for kind, _ in _time_flags(rec, before.isoformat(), now)]
    assert ("time_backwards" in kinds) == ((before - at).total_seconds() > BACKWARDS_TOLERANCE_S)
    assert ("future_time" in kinds) == ((at - now).total_seconds() > MAX_SKEW_S)
    edge = at + timedelta(seconds=BACKWARDS_TOLERANCE_S)
    assert not _time_flags(rec, edge.isoformat(), None)
    assert _time_flags(rec, (edge + timedelta(microseconds=1)).isoformat(), None)
