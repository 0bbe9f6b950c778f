"""The new-bad-rating webhook against a real HTTP receiver on 127.0.0.1 that fails twice, then acknowledges:
retried with backoff, signed, acknowledged once, its state visible; leases keep two senders apart."""

from __future__ import annotations

import io
import json
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from workflow_helpers import china, empty_pg, iso, sign_in

from haochaping.cli import main as hcp
from sync_server.app import create_app
from sync_server.storage.schema import webhook_deliveries
from sync_server.workflow.settings import WorkflowSettings
from sync_server.workflow.webhook import ID_HEADER, SIGNATURE_HEADER, claim, deliver_due, verify_signature

SECRET = "hotline-12345-shared-secret"
T0 = china(2026, 11, 2, 9)


class Receiver:
    """A 12345 platform stand-in: answers 500 to the first ``failures`` requests, then 200."""

    def __init__(self, failures: int):
        self.failures, self.requests = failures, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if len(receiver.requests) <= receiver.failures else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b"busy")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/bad-rating"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def set_webhook(db_url: str, url: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert hcp(["server", "webhooks", "set", "--url", url, "--secret-stdin", "--db", db_url]) == 0


def delivery(store):
    with store.read() as conn:
        return conn.execute(select(webhook_deliveries)).one()


def test_nothing_is_queued_while_no_webhook_is_configured(store, terminals):
    terminals["A01"].rate(1, T0)
    with store.read() as conn:
        assert conn.execute(select(webhook_deliveries)).all() == []


def test_the_delivery_job_says_when_nothing_was_due(store, db_url, capsys):
    capsys.readouterr()
    assert hcp(["server", "webhooks", "deliver", "--db", db_url]) == 0
    assert "没有到期的推送" in capsys.readouterr().out


def test_fails_twice_then_acknowledged_once_with_a_valid_signature(store, terminals, db_url, monkeypatch, capsys):
    with Receiver(failures=2) as receiver:
        set_webhook(db_url, receiver.url, monkeypatch)
        rating_id = terminals["A01"].rate(1, T0)
        queued = delivery(store)
        assert (queued.state, queued.attempts, queued.next_attempt_at) == ("pending", 0, queued.created_at)
        first = deliver_due(store, T0)
        assert [(a.status, a.delivered) for a in first] == [(500, False)]
        assert deliver_due(store, T0 + timedelta(seconds=29)) == []  # backing off: 30 s after the 1st failure
        assert [a.status for a in deliver_due(store, T0 + timedelta(seconds=30))] == [500]
        assert deliver_due(store, T0 + timedelta(seconds=89)) == []  # 60 s after the 2nd
        capsys.readouterr()
        assert hcp(["server", "webhooks", "deliver", "--db", db_url]) == 0  # the job, at real time: due long ago
        assert "已送达" in capsys.readouterr().out
        assert deliver_due(store, T0 + timedelta(days=30)) == []  # acknowledged: never sent again
    assert len(receiver.requests) == 3
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1  # the same stored body each time
    headers, body = receiver.requests[-1]
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER.lower()])
    assert not verify_signature("another secret", body, headers[SIGNATURE_HEADER.lower()])
    assert headers[ID_HEADER.lower()] == str(queued.id)
    payload = json.loads(body)
    assert (payload["event"], payload["rating_id"], payload["level"], payload["reasons"]) == (
        "bad_rating.created",
        rating_id,
        1,
        [115],
    )
    assert "contact" not in body.decode()
    done = delivery(store)
    assert (done.state, done.attempts, done.last_status, done.lease_owner) == ("delivered", 3, 200, None)
    with TestClient(create_app(store, clock=lambda: T0)) as client:
        sign_in(client, "admin")
        page = client.get("/console/webhooks").text
        assert receiver.url in page and "已送达" in page and SECRET not in page
        assert "已送达" in client.get("/console/cases/1").text


def test_a_leased_delivery_is_not_sent_by_a_second_process_until_the_lease_ends(store, terminals, db_url, monkeypatch):
    set_webhook(db_url, "http://127.0.0.1:9/unused", monkeypatch)
    terminals["A01"].rate(2, T0)
    settings = WorkflowSettings(webhook_lease_s=60)
    assert len(claim(store, "worker-1", T0, settings)) == 1
    assert claim(store, "worker-2", T0 + timedelta(seconds=30), settings) == []
    assert [r.lease_owner for r in claim(store, "worker-2", T0 + timedelta(seconds=61), settings)] == ["worker-2"]


def test_unreachable_platform_is_retried_with_capped_exponential_backoff(store, terminals, db_url, monkeypatch):
    set_webhook(db_url, "http://127.0.0.1:9/nothing-listens", monkeypatch)
    terminals["A01"].rate(1, T0)
    settings = WorkflowSettings(webhook_backoff_s=30, webhook_backoff_max_s=100, webhook_timeout_s=2)
    now, waits = T0, []
    for _ in range(4):
        [attempt] = deliver_due(store, now, settings=settings)
        assert attempt.status is None and not attempt.delivered
        row = delivery(store)
        nxt = china(2000, 1, 1).fromisoformat(row.next_attempt_at)
        waits.append((nxt - now).total_seconds())
        now = nxt
    assert waits == [30, 60, 100, 100]
    assert "无法连接" in delivery(store).last_error


@pytest.mark.parametrize("url", ["ftp://example.org/x", "hotline"])
def test_set_refuses_a_url_that_is_not_http(db_url, url, capsys):
    assert hcp(["server", "webhooks", "set", "--url", url, "--db", db_url]) == 2
    assert "http://" in capsys.readouterr().err


def test_two_senders_on_postgresql_claim_disjoint_rows(pg_url):
    """SKIP LOCKED and the lease: two processes' claims at the same moment never share a delivery."""
    from sync_server.db import Store, migrate
    from sync_server.workflow.webhook import enqueue, set_target

    empty_pg(pg_url)
    store = Store.from_url(pg_url)
    migrate(store)
    with store.write() as conn:
        set_target(conn, "http://127.0.0.1:9/x", SECRET, True, "test", T0)
        for case_id in range(1, 21):
            enqueue(conn, case_id, "bad_rating.created", {"case_id": case_id}, iso(T0))
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def work(owner: str) -> None:
        barrier.wait()
        claimed[owner] = [r.id for r in claim(store, owner, T0, WorkflowSettings(), limit=15)]

    threads = [threading.Thread(target=work, args=(f"p{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.dispose()
    assert not set(claimed["p1"]) & set(claimed["p2"])
    assert len(claimed["p1"]) + len(claimed["p2"]) == 20
