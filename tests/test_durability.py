"""Durable first: a separate process rates cases while it is killed with SIGKILL at random moments.

Every rating whose "谢谢" was reached (the worker printed its id after Submit returned) must be in
the database afterwards, the hash chain must verify and SQLite must find the file intact.
"""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kiosk.outbox import Outbox

WORKER = Path(__file__).resolve().parent / "durability_worker.py"
ROUNDS = 30
TIME_BUDGET_S = 45
RATING_ID = re.compile(r"^[0-9a-f]{32}\n$")


def run_and_kill(db: Path, rng: random.Random, reading_s: float = 0.0) -> list[str]:
    """Start the worker, kill it at a random moment, return the rating ids it reported."""
    proc = subprocess.Popen([sys.executable, str(WORKER), str(db), str(reading_s)], stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line == "ready\n":
                ready.set()
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if rng.random() < 0.25:  # sometimes while it is still starting, opening or migrating the file
        time.sleep(rng.uniform(0.0, 0.4))
    else:
        assert ready.wait(timeout=20), "worker did not start"
        time.sleep(rng.uniform(0.02, 0.2))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL, "the worker must not stop on its own"
    return [line.strip() for line in lines if RATING_ID.match(line)]


def test_ratings_survive_sigkill(tmp_path):
    db = tmp_path / "outbox.db"
    rng = random.Random()
    thanked: list[str] = []
    started = time.monotonic()
    rounds = 0
    while rounds < ROUNDS and time.monotonic() - started < TIME_BUDGET_S:
        thanked += run_and_kill(db, rng)
        rounds += 1
    assert rounds >= 10, f"only {rounds} rounds in {TIME_BUDGET_S} s"
    assert len(thanked) >= 50, "the worker should have rated many cases"

    outbox = Outbox(db, device_id="dev-durability")
    try:
        ratings = {r["id"] for r in outbox.records(kind="rating")}
        missing = [i for i in thanked if i not in ratings]
        assert missing == [], f"{len(missing)} thanked ratings lost"
        assert outbox.verify_chain() is None
        seqs = [r["seq"] for r in outbox.records()]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        outbox.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_prompt_cut_off_by_sigkill_gets_an_outcome_at_the_next_start(tmp_path, hall_config):
    """Killed while citizens read the prompt (most kills land there): each start records 未评价，已中断 for the prompt
    the kill left on screen, so afterwards every prompt has exactly one outcome and none is left hanging."""
    from testkit import FakeClock, example_flow

    db = tmp_path / "outbox.db"
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    for _ in range(12):
        run_and_kill(db, rng, reading_s=0.02)
    outbox = Outbox(db, device_id="dev-durability")
    try:
        example_flow(hall_config, outbox, FakeClock(datetime(2030, 1, 1, tzinfo=UTC))).recover_interrupted()
        records = list(outbox.records())
        assert outbox.verify_chain() is None
    finally:
        outbox.close()
    prompts = [r for r in records if r["kind"] == "prompt"]
    outcomes: dict[str, list[str]] = {}
    for r in records:
        if r["kind"] in ("rating", "timeout", "interrupted"):
            outcomes.setdefault(r["case_no"], []).append(r["kind"])
    assert prompts, "the worker should have prompted"
    assert all(len(outcomes.get(p["case_no"], [])) == 1 for p in prompts), "a prompt without exactly one outcome"
    interrupted = sum(1 for r in records if r["kind"] == "interrupted")
    print(f"{len(prompts)} prompts, {interrupted} cut off and recorded 未评价，已中断")
    assert interrupted >= 1
