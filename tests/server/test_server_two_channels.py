"""Kiosk and phone on one case: the long-poll tells a terminal that the case on its screen was rated by phone, and a
kiosk tap made during its live prompt wins over a phone rating made in that prompt (the phone one is the 追评)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from haochaping.qrtoken import make_token
from sync_server.ratings import COUNTING, FOLLOW_UP, RatingFact, live_prompt_pairs, settle
from sync_server.storage.schema import bad_cases, integrity_flags, ratings

P = "2026-11-27T09:00:00.000+00:00"


def at(second: int) -> str:
    return f"2026-11-27T09:{second // 60:02d}:{second % 60:02d}.000+00:00"


def kiosk_fact(second: int, level: int = 1) -> RatingFact:
    return RatingFact("kiosk", "C", level, 4, at(second), at(second + 1), prompted_at=P)


def phone_fact(second: int, level: int = 5) -> RatingFact:
    return RatingFact("qr:C", "C", level, 3, at(second), at(second))


@pytest.mark.parametrize(
    ("phone_s", "kiosk_s", "counting", "paired"),
    [
        (5, 15, "kiosk", True),  # the phone rated while the citizen read the prompt: the citizen's tap wins
        (15, 5, "kiosk", False),  # after the kiosk rating: the first counts, as always
        (120, 15, "kiosk", False),
    ],
)
def test_a_kiosk_tap_wins_over_a_phone_rating_made_during_its_live_prompt(phone_s, kiosk_s, counting, paired):
    facts = [phone_fact(phone_s), kiosk_fact(kiosk_s)]
    roles = settle(facts, follow_up_allowed=True)
    assert roles["kiosk" if counting == "kiosk" else "qr:C"] == (COUNTING, 1)
    assert FOLLOW_UP in {role for role, _ in roles.values()}
    assert bool(live_prompt_pairs(facts)) is paired


def test_a_phone_rating_before_the_kiosk_prompt_counts_first():
    early_phone = RatingFact("qr:C", "C", 5, 3, "2026-11-27T08:59:00.000+00:00", P)
    assert settle([early_phone, kiosk_fact(15)], True) == {"qr:C": (COUNTING, 1), "kiosk": (FOLLOW_UP, 2)}


def rate_by_phone(client, kiosk, case_no: str, clock, level: str = "5") -> None:
    token = make_token(kiosk.device_id, case_no, clock(), kiosk.secret)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get(f"/r/{token}").text).group(1)
    assert client.post(f"/r/{token}", data={"level": level, "nonce": nonce}).status_code == 200


def poll(kiosk, wait: int = 0) -> dict:
    response = kiosk.get(f"/api/v1/triggers?wait={wait}")
    assert response.status_code == 200
    return response.json()


def test_the_long_poll_tells_the_terminal_its_case_on_screen_was_rated_by_phone(
    client, kiosk, configured, server_clock
):
    kiosk.push([kiosk.record("prompt", case_no="LIVE-1", clerk_no="1001", prompted_at=iso(server_clock()))])
    assert poll(kiosk)["phone_rated"] == []
    server_clock.advance(8)
    rate_by_phone(client, kiosk, "LIVE-1", server_clock)
    assert poll(kiosk, wait=5)["phone_rated"] == ["LIVE-1"]
    kiosk.push([kiosk.record("phone_rated", case_no="LIVE-1", clerk_no="1001")])  # the terminal ended the prompt
    assert poll(kiosk)["phone_rated"] == []


def test_a_prompt_that_ended_long_ago_is_not_reported(client, kiosk, configured, server_clock):
    kiosk.push([kiosk.record("prompt", case_no="OLD-1", clerk_no="1001")])
    server_clock.advance(3600)
    rate_by_phone(client, kiosk, "OLD-1", server_clock)
    assert poll(kiosk)["phone_rated"] == []


def test_a_bad_kiosk_tap_after_a_phone_top_rating_in_the_same_prompt_counts_and_opens_a_case(
    client, kiosk, configured, server_clock, store
):
    """Someone scans the kiosk's QR and rates 非常满意 while the citizen reads the prompt; the citizen then taps
    非常不满意 with a reason: the citizen's rating counts, a 差评工单 is opened, both ratings are flagged."""
    prompted = iso(server_clock())
    kiosk.push([kiosk.record("prompt", case_no="PRE-1", clerk_no="1001", prompted_at=prompted)])
    server_clock.advance(5)
    rate_by_phone(client, kiosk, "PRE-1", server_clock)
    server_clock.advance(10)
    tap = kiosk.record("rating", case_no="PRE-1", clerk_no="1001", level=1, reasons=[115], prompted_at=prompted)
    kiosk.push([tap])
    with store.read() as conn:
        query = select(ratings.c.record_id, ratings.c.role).where(ratings.c.case_no == "PRE-1")
        roles = {r.record_id: r.role for r in conn.execute(query).all()}
        opened = conn.execute(select(bad_cases.c.record_id).where(bad_cases.c.case_no == "PRE-1")).all()
        flags = conn.execute(select(integrity_flags.c.record_id).where(integrity_flags.c.kind == "two_channels")).all()
    assert roles == {tap["id"]: COUNTING, "qr:PRE-1": FOLLOW_UP}
    assert opened == [(tap["id"],)]
    assert sorted(r[0] for r in flags) == sorted([tap["id"], "qr:PRE-1"])
    kiosk.push([kiosk.record("sign_out")])  # settling again (any later push) flags nothing twice
    with store.read() as conn:
        assert (
            len(conn.execute(select(integrity_flags.c.id).where(integrity_flags.c.kind == "two_channels")).all()) == 2
        )


def iso(moment) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
