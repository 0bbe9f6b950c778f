"""One counting rating per case (kiosk vs phone, 追评), and the default-rating job (Guangxi: 非常满意 after 7 days)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from server_helpers import CONFIG_DIR
from sqlalchemy import select

from haochaping.qrtoken import make_token
from sync_server.configs import import_config
from sync_server.ratings import COUNTING, FOLLOW_UP, SUPERSEDED, RatingFact, apply_default_ratings, settle
from sync_server.storage.schema import ratings, records


def fact(rid, at, channel=4):
    return RatingFact(
        rid, "C", 5, channel, f"2026-11-27T09:{at:02d}:00.000+00:00", f"2026-11-27T10:{at:02d}:00.000+00:00"
    )


@pytest.mark.parametrize(
    ("facts", "follow_up", "expected"),
    [
        ([fact("k", 1)], True, {"k": (COUNTING, 1)}),
        ([fact("late", 5), fact("early", 1)], True, {"early": (COUNTING, 1), "late": (FOLLOW_UP, 2)}),
        ([fact("late", 5), fact("early", 1)], False, {"early": (COUNTING, 1), "late": (SUPERSEDED, None)}),
        (
            [fact("a", 1), fact("b", 2), fact("c", 3)],
            True,
            {"a": (COUNTING, 1), "b": (FOLLOW_UP, 2), "c": (SUPERSEDED, None)},
        ),
        ([fact("d", 1, channel=0), fact("k", 9)], True, {"k": (COUNTING, 1), "d": (SUPERSEDED, None)}),
    ],
)
def test_settle_the_earlier_rating_counts(facts, follow_up, expected):
    assert settle(facts, follow_up) == expected


def roles(store, case_no):
    with store.read() as conn:
        rows = conn.execute(
            select(records.c.channel, ratings.c.role, ratings.c.assess_number)
            .join(ratings, ratings.c.record_id == records.c.id)
            .where(records.c.case_no == case_no)
            .order_by(records.c.channel)
        ).all()
    return [tuple(r) for r in rows]


def test_kiosk_rating_made_earlier_but_arriving_later_wins_over_the_phone(
    client, kiosk, configured, server_clock, store
):
    kiosk.push([kiosk.record("prompt", case_no="K-1")])
    kiosk_rating = kiosk.record(case_no="K-1", level=4)  # made now, sent later (terminal offline)
    server_clock.advance(600)
    token = make_token(kiosk.device_id, "K-1", server_clock(), kiosk.secret)
    page = client.get(f"/r/{token}").text
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    assert client.post(f"/r/{token}", data={"level": "5", "nonce": nonce}).status_code == 200
    assert roles(store, "K-1") == [(3, COUNTING, 1)]
    kiosk.push([kiosk_rating])
    assert roles(store, "K-1") == [(3, FOLLOW_UP, 2), (4, COUNTING, 1)]


@pytest.fixture
def guangxi(store, server_clock):
    return import_config(store, CONFIG_DIR, "rules/guangxi.toml", server_clock())[0]


def test_default_rating_after_seven_days_for_unrated_cases_only(client, kiosk, guangxi, server_clock, store):
    kiosk.push(
        [
            kiosk.record("prompt", case_no="UNRATED", clerk_no="1001"),
            kiosk.record("timeout", case_no="UNRATED"),
            kiosk.record("prompt", case_no="RATED"),
            kiosk.record(case_no="RATED", level=2, reasons=[213]),
        ]
    )
    server_clock.advance(6 * 86400)
    assert apply_default_ratings(store, server_clock()) == []
    server_clock.advance(86400 + 1)
    assert apply_default_ratings(store, server_clock()) == ["UNRATED"]
    assert apply_default_ratings(store, server_clock()) == []  # idempotent
    with store.read() as conn:
        row = conn.execute(select(records).where(records.c.channel == 0)).one()
    assert (row.case_no, row.level, row.kind, row.clerk_no, row.source) == ("UNRATED", 5, "rating", "1001", "default")
    assert roles(store, "UNRATED") == [(0, COUNTING, 1)]
    assert roles(store, "RATED") == [(4, COUNTING, 1)]


def test_default_ratings_cli_with_now(tmp_path, sqlite_url, monkeypatch):
    from haochaping.cli import main

    assert (
        main(
            [
                "server",
                "config",
                "import",
                "--db",
                sqlite_url,
                "--rules",
                "rules/guangxi.toml",
                "--config-dir",
                str(CONFIG_DIR),
            ]
        )
        == 0
    )
    assert main(["server", "default-ratings", "--db", sqlite_url, "--now", "2030-01-01T00:00:00+00:00"]) == 0


def test_default_ratings_cli_says_in_a_sentence_what_it_did(kiosk, guangxi, server_clock, db_url, capsys):
    from haochaping.cli import main

    kiosk.push([kiosk.record("prompt", case_no="LATE-1"), kiosk.record("timeout", case_no="LATE-1")])
    later = (server_clock() + timedelta(days=8)).isoformat()
    assert main(["server", "default-ratings", "--db", db_url, "--now", later]) == 0
    assert capsys.readouterr().out.strip() == "系统默认评价 1 件：LATE-1"  # for the person who ran it, not JSON
    assert main(["server", "default-ratings", "--db", db_url, "--now", later]) == 0
    assert capsys.readouterr().out.startswith("没有超期未评价的办件")  # twice changes nothing


def test_no_default_rating_where_the_rules_have_none(kiosk, configured, server_clock, store):
    kiosk.push([kiosk.record("prompt", case_no="X")])
    server_clock.advance(30 * 86400)
    assert apply_default_ratings(store, server_clock() + timedelta(days=1)) == []
