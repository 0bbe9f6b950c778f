"""``hcp bench kiosk`` measures the real kiosk and prints ``<name> <value> <unit>`` lines (a short run here)."""

from __future__ import annotations

import re
from argparse import Namespace

import pytest

from bench.kiosk import run
from bench.kit import percentile

pytestmark = pytest.mark.gui


def test_the_benchmark_prints_one_line_per_figure(xvfb, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", xvfb)
    assert run(Namespace(rounds=3)) == 0
    lines = capsys.readouterr().out.splitlines()
    figures = {}
    for line in lines:
        name, value, unit = line.split(" ")
        assert re.fullmatch(r"kiosk\.[a-z_.0-9]+", name) and unit in {"s", "ms", "count"}
        figures[name] = float(value)
    assert figures["kiosk.rounds"] == 3
    # how fast is the benchmark's answer; the test only checks that each figure was measured
    assert figures["kiosk.start_to_idle_s"] > 0
    assert figures["kiosk.trigger_to_prompt_ms.p95"] > 0 and figures["kiosk.tap_to_commit_ms.p99"] > 0
    assert figures["kiosk.outbox_year_query_ms.max"] > 0


@pytest.mark.parametrize(
    "values, pct, expected",
    [([5.0], 99, 5.0), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4), (list(range(1, 101)), 99, 99)],
)
def test_percentile_is_nearest_rank(values, pct, expected):
    assert percentile(values, pct) == expected
