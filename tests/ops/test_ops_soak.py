"""A short soak of the real kiosk under Xvfb (``bench.kiosk_soak``, the engine of ``hcp bench kiosk-soak``): every
cycle's rating is stored, no widget is left behind, memory stops growing after the warm-up and frame times are
recorded (whether they get slower is the benchmark's figure: a busy machine would fail such a test). The full
10,000-cycle run is the benchmark; this one is small enough for CI."""

from __future__ import annotations

import pytest

from bench.kiosk_soak import figures, run_child, windows

CYCLES = 160
# The allocator takes memory in steps of a few MB (one CI run grew 2.2 MB in 80 cycles with no leak), so a short run
# allows one such step plus 20 KB a cycle. A QR texture, photo or widget tree kept per prompt costs 100 KB or more a
# cycle and fails this; the small-leak bound (20 MB over 10,000 cycles) is the benchmark's job.
ALLOCATOR_STEP_MB = 4
MAX_GROWTH_KB_PER_CYCLE = 20


@pytest.mark.gui
@pytest.mark.slow
def test_a_short_soak_stores_every_rating_and_does_not_grow(xvfb, tmp_path):
    result = run_child(tmp_path, xvfb, CYCLES, 640, 480)
    assert result.get("error") is None, result.get("error")
    assert result["cycles"] == CYCLES and result["refused"] == []
    assert result["ratings_stored"] == CYCLES  # every cycle's rating is in the outbox
    warmup, _window = windows(CYCLES)
    rss = result["rss_mb"]
    allowed_mb = ALLOCATOR_STEP_MB + MAX_GROWTH_KB_PER_CYCLE * (CYCLES - warmup) / 1024
    assert rss["end"] - rss["after_warmup"] < allowed_mb, rss
    assert result["widgets"]["end"] <= result["widgets"]["after_warmup"]  # nothing re-created and kept per prompt
    frame = result["frame_ms"]
    assert frame["start"] and frame["end"]
    # whether frames get slower is a timing, for `hcp bench kiosk-soak` (kiosk.soak_frame_ms.p99.start/.end)
    assert result["wal_bytes"] == 0  # checkpointed at the end
    names = [name for name, _value, _unit in figures(result)]
    assert {"kiosk.soak_rss_growth_mb", "kiosk.soak_frame_ms.p99.start", "kiosk.soak_frame_ms.p99.end"} <= set(names)


@pytest.mark.parametrize(
    ("cycles", "expected"), [(20, (10, 10)), (120, (40, 20)), (300, (60, 60)), (10_000, (500, 500))]
)
def test_the_warm_up_and_the_measuring_windows(cycles, expected):
    assert windows(cycles) == expected
