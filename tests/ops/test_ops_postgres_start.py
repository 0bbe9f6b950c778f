"""Two ``hcp server`` processes (one of them with two workers) started at the same moment on a fresh PostgreSQL
database: the migrations run once (the advisory lock), both serve, and /metrics of the multi-worker server adds
up every worker's counters."""

from __future__ import annotations

import json

import httpx
import pytest
from ops_helpers import CONFIG_DIR, Terminal, start_server, stop, wait_healthy
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text


def counter(body: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


@pytest.mark.slow
def test_two_servers_starting_together_migrate_once_and_both_serve(fresh_pg_url, tmp_path):
    from datetime import UTC, datetime

    from sync_server.configs import import_config
    from sync_server.db import Store

    a, base_a = start_server(fresh_pg_url, tmp_path / "a.log")
    b, base_b = start_server(fresh_pg_url, tmp_path / "b.log", "--workers", "2")
    try:
        assert wait_healthy(a, base_a, tmp_path / "a.log") == 200
        assert wait_healthy(b, base_b, tmp_path / "b.log") == 200
        engine = create_engine(fresh_pg_url)
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one()
        engine.dispose()
        assert len(versions) == 1 and tables > 10

        store = Store.from_url(fresh_pg_url)
        import_config(store, CONFIG_DIR, "rules/default.toml", datetime.now(UTC))
        with httpx.Client(base_url=base_b, timeout=30) as client:
            kiosk = Terminal(client, store)
            for n in range(6):  # six batches, spread by the kernel over both workers
                with httpx.Client(base_url=base_b, timeout=30) as fresh:
                    kiosk.client = fresh
                    assert kiosk.push([kiosk.rating(f"PG-{n}")]).status_code == 200
            kiosk.client = client
            body = client.get("/metrics").text
        store.dispose()
        assert counter(body, "hcp_sync_batches_total") == 6
        assert counter(body, "hcp_sync_records_total", result="stored") == 6
        assert counter(body, "hcp_ratings_received_total", source="device") == 6
        with httpx.Client(base_url=base_a, timeout=30) as client:
            assert counter(client.get("/metrics").text, "hcp_ratings_received_total", source="device") == 6
    finally:
        stop(a)
        stop(b)
    logs = (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    assert "Traceback" not in logs, logs[-3000:]
    access = [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"hcp.access"' in line]
    pushes = [e for e in access if e["path"] == "/api/v1/records"]
    assert len(pushes) == 6 and all(e["status"] == 200 and len(e["request_id"]) == 32 for e in pushes)
    assert len({e["request_id"] for e in access}) == len(access)  # one id per request
