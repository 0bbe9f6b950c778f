"""Real server processes on loopback: two processes on one PostgreSQL behave as one server."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from server_helpers import Kiosk, _empty_pg, count, real_clock, server_process

from sync_server.db import Store, migrate
from sync_server.storage.schema import records
from sync_server.triggers import add_case_system


@pytest.fixture
def pg_store(pg_url):
    _empty_pg(pg_url)
    store = Store.from_url(pg_url)
    migrate(store)
    yield store
    store.dispose()


@pytest.mark.slow
def test_two_processes_on_one_postgresql_store_once_and_share_nonces(pg_url, pg_store, tmp_path):
    with server_process(pg_url, tmp_path / "a.log") as a, server_process(pg_url, tmp_path / "b.log") as b:
        with httpx.Client(base_url=a, timeout=30) as ca, httpx.Client(base_url=b, timeout=30) as cb:
            kiosk = Kiosk(ca, real_clock, store=pg_store)
            batch = [kiosk.record(case_no=f"P{i}") for i in range(300)]
            answers: dict[str, httpx.Response] = {}
            start = threading.Barrier(2)

            def push(name: str, client: httpx.Client) -> None:
                body = json.dumps({"records": batch}).encode()
                headers = kiosk.headers("POST", "/api/v1/records", body)
                start.wait()
                answers[name] = client.post("/api/v1/records", content=body, headers=headers)

            threads = [threading.Thread(target=push, args=(n, c)) for n, c in (("a", ca), ("b", cb))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert {n: r.status_code for n, r in answers.items()} == {"a": 200, "b": 200}
            statuses = [r["status"] for ans in answers.values() for r in ans.json()["results"]]
            assert statuses.count("stored") == 300 and statuses.count("duplicate") == 300
            assert count(pg_store, records) == 300

            body = json.dumps({"records": []}).encode()
            headers = kiosk.headers("POST", "/api/v1/records", body)
            assert ca.post("/api/v1/records", content=body, headers=headers).status_code == 200
            replay = cb.post("/api/v1/records", content=body, headers=headers)
            assert replay.status_code == 401 and "重复" in replay.json()["error"]

            key = add_case_system(pg_store, "办件系统", real_clock())
            made = ca.post(
                "/api/v1/cases/X-1/prompt", json={"window": "A01"}, headers={"Authorization": f"Bearer {key}"}
            )
            assert made.status_code == 202
            polled = kiosk.headers("GET", "/api/v1/triggers?wait=0", b"")
            assert [t["case_no"] for t in cb.get("/api/v1/triggers?wait=0", headers=polled).json()["triggers"]] == [
                "X-1"
            ]
