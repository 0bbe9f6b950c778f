"""Assessment test helpers (a module name no other test folder uses): the workflow's example hall and terminals,
and a kiosk day of sign-in, pause and sign-out records."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from testkit import FakeClock, china, iso  # noqa: F401 - re-exported for the tests

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_workflow = _load("hcp_workflow_helpers_for_assessment", ROOT / "tests" / "workflow" / "workflow_helpers.py")
Terminal = _workflow.Terminal
PASSWORDS = _workflow.PASSWORDS
actor = _workflow.actor
sign_in = _workflow.sign_in
csrf_of = _workflow.csrf_of
server_process = _workflow.server_process  # a real hcp server on a free loopback port


def make_hall(store, start):
    """The example hall, its terminals and users, and the assessment rule table of ``config/``."""
    from sync_server.assessment.rules import import_rules

    terminals = _workflow.make_hall(store, start)
    import_rules(store, CONFIG_DIR, start)
    return terminals


def push(terminal, records: list[dict], when) -> None:
    """Ingest records as the device API does (received at ``when``)."""
    from sync_server.ingest import ingest

    ingest(terminal.store, terminal.device_id, records, when)


def terminals_of(store) -> dict:
    """The hall's enrolled terminals, by window."""
    from sqlalchemy import select

    from sync_server.storage.schema import devices

    with store.read() as conn:
        rows = conn.execute(select(devices.c.id, devices.c.window).order_by(devices.c.window)).all()
    return {r.window: Terminal(store, r.id, r.window) for r in rows}
