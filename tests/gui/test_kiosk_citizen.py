"""The citizen at the real kiosk under Xvfb (1024×600, the smallest size): a wrong tap undone with 返回重选, a bad
level left without a reason and a good level left on the reasons screen; screenshots in screenshots/citizen/."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from haochaping.levels import LEVEL_LABELS
from kiosk.outbox import Outbox

from .citizen_scenarios import CASE_LEFT_BAD, CASE_LEFT_GOOD, CASE_UNDO
from .conftest import keep_screenshots, kivy_env, write_settings

pytestmark = pytest.mark.gui

DRIVER = Path(__file__).with_name("driver.py")


@dataclass
class Run:
    summary: dict
    data: Path

    def screen(self, name: str) -> dict:
        return next(s for s in self.summary["screens"] if s["name"] == name)


@pytest.fixture(scope="module")
def citizen_run(xvfb, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("kiosk-citizen")
    settings = write_settings(tmp, 1024, 600)
    out = tmp / "screens"
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(settings), str(out), "citizen"],
        env=kivy_env(tmp, xvfb),
        capture_output=True,
        text=True,
        timeout=180,
    )
    summary_file = out / "summary.json"
    assert summary_file.exists(), done.stderr[-3000:]
    keep_screenshots(out, "citizen")
    summary = json.loads(summary_file.read_text())
    assert summary["error"] is None, summary["error"]
    return Run(summary, tmp / "data")


def test_reselect_is_a_large_button_well_apart_from_submit(citizen_run):
    shot = citizen_run.screen("reasons_bad")
    assert "返回重选" in shot["texts"] and "提交" in shot["texts"]
    assert shot["too_small"] == [] and shot["cut_off"] == [] and shot["outside"] == []
    assert citizen_run.summary["reselect_gap_px"] > 200  # the two ends of the bottom row, not side by side


def test_reselect_goes_back_to_the_five_levels_and_the_second_choice_is_the_rating(citizen_run):
    labels = [t for t in citizen_run.screen("prompt_after_reselect")["texts"] if t in LEVEL_LABELS.values()]
    assert labels == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    box = Outbox(citizen_run.data / "outbox.db", "reader")
    try:
        ratings = {r["case_no"]: r for r in box.records(kind="rating")}
        timeouts = list(box.records(kind="timeout"))
    finally:
        box.close()
    assert ratings[CASE_UNDO]["level"] == 5 and ratings[CASE_UNDO]["detail"]["withdrawn_levels"] == [1]
    assert (ratings[CASE_LEFT_BAD]["level"], ratings[CASE_LEFT_BAD]["reasons"]) == (2, [])  # rule count: a 差评
    assert ratings[CASE_LEFT_GOOD]["level"] == 4
    assert timeouts == []


def test_a_level_left_on_the_reasons_screen_is_thanked_and_never_shown(citizen_run):
    for name in ("thanks_after_bad_left", "thanks_after_good_left"):
        texts = citizen_run.screen(name)["texts"]
        assert "谢谢您的评价" in texts
        assert not any(label in t for t in texts for label in LEVEL_LABELS.values()), (name, texts)
