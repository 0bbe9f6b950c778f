"""``/metrics`` read the way Prometheus reads it, ``/healthz`` against a database that answers or not, and the
JSON access log with its request id."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta

from ops_helpers import Terminal
from prometheus_client.parser import text_string_to_metric_families


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_ratings_batches_and_refusals(app_client, server_db):
    _url, store = server_db
    before = scrape(app_client)
    assert value(before, "hcp_ratings_received_total", source="device") == 0
    assert value(before, "hcp_sync_batches_total") == 0

    kiosk = Terminal(app_client, store)
    batch = [
        kiosk.rating("M-1"),
        kiosk.rating("M-2", level=2, reasons=(214,)),
        kiosk.rating("M-3", level=1, reasons=(115,)),
    ]
    assert kiosk.push(batch).status_code == 200
    assert kiosk.push(batch[:1]).status_code == 200  # sent again: a duplicate
    assert kiosk.push([kiosk.rating("M-4")], secret=b"x" * 32).status_code == 401  # wrong secret

    after = scrape(app_client)
    assert value(after, "hcp_ratings_received_total", source="device") == 3
    assert value(after, "hcp_sync_batches_total") == 2
    assert value(after, "hcp_sync_records_total", result="stored") == 3
    assert value(after, "hcp_sync_records_total", result="duplicate") == 1
    assert value(after, "hcp_signature_refusals_total", reason="signature_invalid") == 1
    assert value(after, "hcp_bad_ratings_open") == 2
    assert value(after, "hcp_bad_ratings_overdue") == 0  # rated today: the contact deadline is ahead
    assert value(after, "hcp_terminals") == 1 and value(after, "hcp_terminals_silent") == 0
    count = value(after, "hcp_http_request_duration_seconds_count", method="POST", route="/api/v1/records")
    assert count == 3


def test_terminals_silent_clock_off_and_overdue_bad_ratings_are_counted_from_the_database(server_db):
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    _url, store = server_db
    moving = {"now": datetime.now(UTC)}
    with TestClient(create_app(store, clock=lambda: moving["now"]), raise_server_exceptions=False) as client:
        kiosk = Terminal(client, store, clock=lambda: moving["now"])
        kiosk.push([kiosk.rating("S-1", level=1, reasons=(115,))])
        status = {"outbox_depth": 0, "config_version": "x", "clock_offset_s": 300.0, "app_version": "t"}
        assert kiosk.post("/api/v1/status", status).status_code == 200
        samples = scrape(client)
        assert value(samples, "hcp_terminals_clock_off") == 1
        assert value(samples, "hcp_terminals_silent") == 0
        moving["now"] += timedelta(days=20)  # past any contact deadline of 2 working days; nobody heard of it
        samples = scrape(client)
        assert value(samples, "hcp_terminals_silent") == 1
        assert value(samples, "hcp_bad_ratings_open") == 1
        assert value(samples, "hcp_bad_ratings_overdue") == 1


def test_healthz_answers_503_in_the_error_shape_when_the_database_is_gone(server_db, tmp_path):
    from fastapi.testclient import TestClient

    from sync_server.app import create_app
    from sync_server.db import Store

    _url, store = server_db
    with TestClient(create_app(store)) as client:
        assert client.get("/healthz").json() == {"ok": True}
    broken = Store.from_url(f"sqlite:///{tmp_path / 'no-such-dir' / 'x' / 'db.sqlite'}")
    (tmp_path / "no-such-dir" / "x").rmdir()
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "error": "数据库无法访问", "status": 503}


def test_access_log_is_one_json_object_a_line_with_the_request_id(app_client):
    from sync_server.observability import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("hcp.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        given = app_client.get("/healthz", headers={"X-Request-ID": "case-system-42"})
        made = app_client.get("/no-such-page")
    finally:
        access.removeHandler(handler)
    assert given.headers["X-Request-ID"] == "case-system-42"
    assert len(made.headers["X-Request-ID"]) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["request_id"], e["method"], e["path"], e["status"]) for e in lines] == [
        ("case-system-42", "GET", "/healthz", 200),
        (made.headers["X-Request-ID"], "GET", "/no-such-page", 404),
    ]
    for entry in lines:
        assert entry["level"] == "info" and entry["duration_ms"] >= 0
        assert datetime.fromisoformat(entry["time"]).tzinfo is not None


def test_the_devices_page_marks_a_terminal_whose_clock_is_off():
    from sync_server.console.devices_view import health
    from sync_server.devices import Device

    now = datetime.now(UTC)
    seen = now.isoformat(timespec="milliseconds")

    def device(name: str, offset) -> Device:
        return Device(name, "A01", b"k" * 32, seen, None, seen, {"clock_offset_s": offset, "config_version": "v"})

    rows = health([device("fast", -400.0), device("ok", 30.0), device("unknown", None)], now, 30, "v", 120)
    assert {h.device.id: h.clock_off for h in rows} == {"fast": True, "ok": False, "unknown": False}


def test_every_page_links_an_icon_and_favicon_ico_answers_it(server_db):
    """A browser asking for /favicon.ico gets the icon, not a 404 in the log; the pages link the same file."""
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    _url, store = server_db
    with TestClient(create_app(store)) as client:
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.content == client.get("/static/favicon.svg").content
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/console/login").text
