"""``hcp bench sync`` runs against a real server process and prints one ``<name> <value> <unit>`` line per figure."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bench.sync import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

EXPECTED = {
    "sqlite.bare_insert_per_s": "rows/s",
    "server.ingest_inprocess_per_s": "ratings/s",
    "server.ingest_sql_only_per_s": "ratings/s",
    "server.ingest_ratings_per_s": "ratings/s",
    "server.inprocess_share_of_bare": "ratio",
    "server.sql_only_share_of_bare": "ratio",
    "server.http_share_of_inprocess": "ratio",
    "sync.drain_10k_s": "s",
    "server.qr_page_p50_ms": "ms",
    "server.qr_page_p99_ms": "ms",
    "server.qr_page_spread_1s_p99_ms": "ms",
}


def test_bench_sync_prints_every_figure():
    command = [sys.executable, "-m", "haochaping.cli", "bench", "sync", "--ratings", "1000"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=230, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    figures = {}
    for line in lines:
        match = re.fullmatch(r"(\S+) (\d+(?:\.\d+)?) (\S+)", line)
        assert match, f"not '<name> <value> <unit>': {line!r}"
        figures[match.group(1)] = (float(match.group(2)), match.group(3))
    assert {name: unit for name, (_, unit) in figures.items()} == EXPECTED
    assert all(value > 0 for value, _ in figures.values())
    assert figures["server.inprocess_share_of_bare"][0] < 1.5  # checks and settling cannot beat a bare insert by much
    assert figures["server.http_share_of_inprocess"][0] < 1.5  # nor HTTP the same path without it
    # its SQL replayed alone is what the Python around it adds to: the replay cannot be much slower than the ingest
    assert figures["server.ingest_sql_only_per_s"][0] > 0.7 * figures["server.ingest_inprocess_per_s"][0]
