"""Workflow test helpers (a module name no other test folder uses): the example hall, users of every role, and a
kiosk whose signed-in records go through the server's own ingest (so every handling record is opened by settling)."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from testkit import ChainedRecords, FakeClock, china, iso  # noqa: F401 - re-exported for the tests

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"
MATTER_SC = "11450102MB1234567X4000111"
MATTER_RS = "11450102MB7654321Y3000201"
PASSWORDS = {
    "admin": "admin-pass-1",
    "admin2": "admin-pass-2",
    "sc_reviewer": "sc-pass-123",
    "rs_reviewer": "rs-pass-123",
    "supervisor": "sup-pass-12",
    "revisitor": "rev-pass-123",
}
ROLES = {
    "admin": ("admin", None),
    "admin2": ("admin", None),
    "sc_reviewer": ("reviewer", "SC"),
    "rs_reviewer": ("reviewer", "RS"),
    "supervisor": ("supervisor", None),
    "revisitor": ("revisitor", None),
}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_server = _load("hcp_server_conftest_for_workflow", ROOT / "tests" / "server" / "server_helpers.py")
server_process = _server.server_process
ServerKiosk = _server.Kiosk  # enrols over HTTP and signs requests; works with httpx.Client too


class Terminal(ChainedRecords):
    """Makes chained records as one kiosk would and pushes them through ``ingest`` at a given time."""

    def __init__(self, store, device_id: str, window: str):
        super().__init__(device_id, window)
        self.store, self.n = store, 0

    def rate(self, level: int, when: datetime, clerk: str = "1001", matter: str = MATTER_SC, **extra) -> str:
        """One prompted case rated ``level``, received by the server at ``when``; returns the rating's id."""
        from sync_server.ingest import ingest

        self.n += 1
        case = dict(case_no=f"{self.window}-{uuid.uuid4().hex[:8]}", clerk_no=clerk, matter_code=matter)
        reasons = {1: [115], 2: [213]}.get(level, [])
        prompt = self.record("prompt", when - timedelta(seconds=60), **case)
        rating = self.record(
            "rating", when - timedelta(seconds=30), level=level, reasons=reasons, prompted_at=prompt["occurred_at"],
            **case, **extra,
        )  # fmt: skip
        results = ingest(self.store, self.device_id, [prompt, rating], when)
        assert {s for _, s in results} == {"stored"}
        return rating["id"]


def make_hall(store, start: datetime, rules: str = "rules/default.toml") -> dict[str, Terminal]:
    """Configuration, one enrolled terminal per window, and users of every role (created at ``start``)."""
    from sync_server.configs import import_config
    from sync_server.console.accounts import add_user
    from sync_server.devices import add_enrolment_code, enrol

    import_config(store, CONFIG_DIR, rules, start)
    terminals = {}
    for window in ("A01", "B03"):
        code, _ = add_enrolment_code(store, window, start)
        terminals[window] = Terminal(store, enrol(store, code, start).id, window)
    for name, (role, dept) in ROLES.items():
        add_user(store, name, role, PASSWORDS[name], start, "test", department=dept)
    return terminals


def actor(name: str):
    from sync_server.workflow.machine import Actor

    role, dept = ROLES[name]
    return Actor(name, role, dept)


def sign_in(client, username: str):
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/console/login",
        data={"username": username, "password": PASSWORDS[username], "csrf_token": token, "next": ""},
        follow_redirects=False,
    )


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


@contextlib.contextmanager
def signed_in_clients(store):
    """``make(username)``: a console client of ``store``, signed in as ``username``, the clock at 2 November 2026
    15:00 (China); every client made is closed afterwards."""
    from fastapi.testclient import TestClient

    from sync_server.app import create_app

    clients = []

    def make(username: str):
        c = TestClient(create_app(store, clock=lambda: china(2026, 11, 2, 15)), raise_server_exceptions=False)
        clients.append(c.__enter__())
        assert sign_in(c, username).status_code == 303
        return c

    try:
        yield make
    finally:
        for c in clients:
            c.__exit__(None, None, None)


def post_step(client, step: str, data: dict, files=None, case_id: int = 1):
    """Take a step of 差评工单 ``case_id`` through its page's form, as the signed-in user."""
    token = csrf_of(client.get(f"/console/cases/{case_id}").text)
    return client.post(
        f"/console/cases/{case_id}/steps/{step}",
        data={"csrf_token": token, **data},
        files=files,
        follow_redirects=False,
    )


empty_pg = _server._empty_pg


def prompted(store, terminal, when, clerk: str, n: int, tag: str) -> list[str]:
    """``n`` cases prompted at ``terminal`` for ``clerk`` (not rated there); their case numbers."""
    batch, numbers = [], []
    for i in range(n):
        case = dict(case_no=f"{terminal.window}-{tag}-{i}", clerk_no=clerk, matter_code=MATTER_SC)
        batch.append(terminal.record("prompt", when + timedelta(minutes=i), **case))
        numbers.append(case["case_no"])
    from sync_server.ingest import ingest

    results = ingest(store, terminal.device_id, batch, when + timedelta(minutes=n), terminal.window)
    assert {s for _, s in results} == {"stored"}
    return numbers


def rate_by_phone(phone, store, terminal, case_no: str, issued, level: int):
    """GET the QR page of the case and submit ``level`` from the phone (a TestClient: it keeps its cookies)."""
    from sqlalchemy import select

    from haochaping.qrtoken import make_token
    from sync_server.storage.schema import devices

    with store.read() as conn:
        secret = conn.execute(select(devices.c.secret_hex).where(devices.c.id == terminal.device_id)).scalar_one()
    token = make_token(terminal.device_id, case_no, issued, bytes.fromhex(secret))
    page = phone.get(f"/r/{token}")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
    reasons = {1: ["115"], 2: ["213"]}.get(level, [])
    sent = phone.post(f"/r/{token}", data={"level": str(level), "reasons": reasons, "nonce": nonce})
    assert sent.status_code == 200 and "感谢" in sent.text, sent.text  # never refused
    return page
