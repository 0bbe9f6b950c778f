"""Assessment test fixtures: the workflow's example hall (users of every role, two terminals) on SQLite and
PostgreSQL; the helpers live in ``assessment_helpers.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from assessment_helpers import Terminal, china, make_hall, terminals_of


@pytest.fixture(scope="session")
def hall_template(tmp_path_factory) -> Path:
    from sync_server.db import Store, migrate

    path = tmp_path_factory.mktemp("assessment-template") / "server.db"
    s = Store.from_url(f"sqlite:///{path}")
    migrate(s)
    make_hall(s, china(2026, 1, 2))
    s.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, hall_template):
    """The example hall on SQLite (a copy of the template) and on a fresh PostgreSQL database."""
    from sync_server.db import Store, migrate

    if request.param == "sqlite":
        shutil.copy(hall_template, tmp_path / "server.db")
        s = Store.from_url(f"sqlite:///{tmp_path / 'server.db'}")
        yield s
        s.dispose()
        return
    from testkit import fresh_pg_database

    with fresh_pg_database("hcp_assess") as url:
        s = Store.from_url(url)
        migrate(s)
        make_hall(s, china(2026, 1, 2))
        yield s
        s.dispose()


@pytest.fixture
def sqlite_store(tmp_path, hall_template):
    from sync_server.db import Store

    shutil.copy(hall_template, tmp_path / "server.db")
    s = Store.from_url(f"sqlite:///{tmp_path / 'server.db'}")
    yield s
    s.dispose()


@pytest.fixture
def terminals(store) -> dict[str, Terminal]:
    return terminals_of(store)
