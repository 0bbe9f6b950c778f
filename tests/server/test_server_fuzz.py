"""Schema-based fuzzing (schemathesis against /openapi.json, every check, all its phases including the stateful
one, a fixed seed, 20 examples per operation): no request causes a 5xx, every schema-valid request is accepted,
every schema-violating one refused, and every answer has a documented status, media type and body.

Two runs: against a live ``hcp server`` process as any outsider sees it (unsigned: most device calls end at
401), and against the app behind a test-only signer that signs every device request with an enrolled device's
secret and adds the case system's key, so the generated bodies reach validation, ingest and triggers."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest
from server_helpers import CONFIG_DIR, real_clock, server_process
from sqlalchemy import select

from bench.kit import free_port
from haochaping.signing import HEADER_SIGNATURE, sign_headers
from sync_server.app import create_app
from sync_server.configs import import_config
from sync_server.db import Store, migrate
from sync_server.devices import add_enrolment_code, enrol
from sync_server.settings import ServerSettings
from sync_server.storage.schema import devices
from sync_server.triggers import add_case_system

QUICK = ServerSettings(long_poll_max_s=0.1)  # a generated wait=30 must not hold the run for 30 s


def run_schemathesis(base: str, examples: int) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",  # no server error, and every answer as /openapi.json describes it (status, media type, body)
            "--max-examples",
            str(examples),
            "--workers",
            "1",  # CPython 3.11.7's ast is not thread-safe and hypothesis parses lambdas: one worker
            "--seed",
            "20261127",
            "--request-timeout",
            "40",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    cases = re.search(r"(\d+) generated, (\d+) passed\s*$", run.stdout, re.MULTILINE)
    assert cases and int(cases.group(1)) == int(cases.group(2)) > 100, tail


@pytest.fixture
def fuzz_store(sqlite_url):
    store = Store.from_url(sqlite_url)
    migrate(store)
    import_config(store, CONFIG_DIR, "rules/default.toml", real_clock())
    yield store
    store.dispose()


@pytest.mark.slow
def test_unsigned_fuzzing_of_a_live_server_finds_no_server_error(sqlite_url, fuzz_store, tmp_path):
    with server_process(sqlite_url, tmp_path / "server.log") as base:
        run_schemathesis(base, 20)


class Signer:
    """Test-only ASGI wrapper: signs unsigned device requests as the enrolled device would."""

    def __init__(self, app, device, case_key: str):
        self.app, self.device, self.case_key = app, device, case_key

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != HEADER_SIGNATURE.lower().encode()]
        path = scope["raw_path"].decode("latin-1") + (
            f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else ""
        )
        signed = sign_headers(self.device.id, self.device.secret, scope["method"], path, body, time.time())
        headers = [(k, v) for k, v in headers if k.decode().lower() not in {h.lower() for h in signed}]
        headers += [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        headers.append((b"authorization", f"Bearer {self.case_key}".encode()))
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


@pytest.mark.slow
def test_signed_fuzzing_reaches_ingest_and_finds_no_server_error(fuzz_store):
    import uvicorn

    device = enrol(fuzz_store, add_enrolment_code(fuzz_store, "A01", real_clock())[0], real_clock())
    key = add_case_system(fuzz_store, "fuzz", real_clock())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Signer(create_app(fuzz_store, settings=QUICK), device, key),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        run_schemathesis(f"http://127.0.0.1:{port}", 20)
    finally:
        server.should_exit = True
        thread.join(10)
    with fuzz_store.read() as conn:
        seen = conn.execute(select(devices.c.last_seen_at).where(devices.c.id == device.id)).scalar_one()
    assert seen is not None  # signed requests got past authentication
