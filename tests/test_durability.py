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

from testkit import random_seed

from kiosk.outbox import Outbox

WORKER = Path(__file__).resolve().parent / "durability_worker.py"
ROUNDS = 24
RATING_ID = re.compile(r"^[0-9a-f]{32}\n$")


def run_and_kill(db: Path, rng: random.Random, reading_s: float = 0.0) -> tuple[list[str], int]:
    """Start the worker, kill it at a random moment, return the rating ids it reported and how many it had to
    report before the kill. The moment is a number of ratings plus a short pause, so a busy machine only
    makes a round longer."""
    seed = rng.randrange(2**32)
    command = [sys.executable, str(WORKER), str(db), str(seed), str(reading_s)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready, enough = threading.Event(), threading.Event()
    wanted = 0 if rng.random() < 0.25 else rng.randint(1, 8)

    def read() -> None:
        for line in proc.stdout:
            if line == "ready\n":
                ready.set()
            lines.append(line)
            if RATING_ID.match(line) and sum(1 for x in lines if RATING_ID.match(x)) >= wanted:
                enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if wanted == 0:  # sometimes while it is still starting, opening or migrating the file
        time.sleep(rng.uniform(0.0, 0.4))
    else:
        assert ready.wait(timeout=120), "worker did not start"
        assert enough.wait(timeout=120), f"worker did not rate {wanted} cases"
        time.sleep(rng.uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the worker must not stop on its own"
    return [line.strip() for line in lines if RATING_ID.match(line)], wanted


def test_ratings_survive_sigkill(tmp_path):
    seed = random_seed()
    rng = random.Random(seed)
    db = tmp_path / "outbox.db"
    thanked: list[str] = []
    wanted = 0
    for _ in range(ROUNDS):
        reported, at_least = run_and_kill(db, rng)
        thanked += reported
        wanted += at_least
    assert len(thanked) >= wanted > 0, f"seed {seed}: every rating reported before a kill is counted"

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
    rng = random.Random(random_seed())
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
