"""Schema-based fuzzing of the live API (schemathesis against /openapi.json): no request may cause a 5xx."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import CONFIG_DIR, server_process

from sync_server.configs import import_config
from sync_server.db import Store, migrate


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(sqlite_url, tmp_path, server_clock):
    store = Store.from_url(sqlite_url)
    migrate(store)
    import_config(store, CONFIG_DIR, "rules/default.toml", server_clock())
    store.dispose()
    with server_process(sqlite_url, tmp_path / "server.log") as base:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "30",
                "--workers",
                "2",
                "--seed",
                "20261127",
                "--request-timeout",
                "10",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=170,
        )
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    cases = re.search(r"(\d+) generated, (\d+) passed\s*$", run.stdout, re.MULTILINE)
    assert cases and int(cases.group(1)) == int(cases.group(2)) > 100, tail
