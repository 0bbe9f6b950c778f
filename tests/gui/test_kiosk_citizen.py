"""The citizen at the real kiosk under Xvfb (1024×600, the smallest size): a wrong tap undone with 返回重选, a bad
level left without a reason and a good level left on the reasons screen, notices that clear, 大字, the keypad's
placeholder and the maintenance screen; screenshots in screenshots/citizen/."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from haochaping.levels import LEVEL_LABELS
from kiosk.outbox import Outbox

from .citizen_scenarios import CASE_LEFT_BAD, CASE_LEFT_GOOD, CASE_T1, CASE_T2, CASE_UNDO
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
    assert [t["case_no"] for t in timeouts] == [CASE_T1, CASE_T2]  # only the two prompts left untouched


def test_a_level_left_on_the_reasons_screen_is_thanked_and_never_shown(citizen_run):
    for name in ("thanks_after_bad_left", "thanks_after_good_left"):
        texts = citizen_run.screen(name)["texts"]
        assert "谢谢您的评价" in texts
        assert not any(label in t for t in texts for label in LEVEL_LABELS.values()), (name, texts)


def test_two_timeouts_in_a_row_each_show_their_notice_and_each_clears(citizen_run):
    for n in (1, 2):
        assert "未评价，已超时" in citizen_run.screen(f"idle_timeout_{n}")["texts"]
        assert "未评价，已超时" not in citizen_run.summary[f"idle_texts_after_{n}"]


def test_large_text_keeps_the_qr_hint_phrases_whole_and_both_reason_lists_alike(citizen_run):
    texts = citizen_run.screen("prompt_large")["texts"]
    assert "用手机扫描二维码\n稍后也可以评价" in texts
    assert citizen_run.summary["bad_tile_fonts"] == citizen_run.summary["good_tile_fonts"]
    assert len(citizen_run.summary["bad_tile_fonts"]) == 1
    for name in ("prompt_large", "reasons_bad_large", "reasons_good_large"):
        shot = citizen_run.screen(name)
        assert shot["cut_off"] == [] and shot["outside"] == [] and shot["too_small"] == [], name


def test_the_maintenance_screen_shows_china_time_and_names_the_window_once(citizen_run):
    texts = citizen_run.screen("maintenance")["texts"]
    assert "2026-11-27 15:31:32" in texts  # 07:31:32 UTC
    assert "A01 综合受理窗口" in texts and not any("A01 A01" in t or "A01　A01" in t for t in texts)
    assert "立即同步" in texts
    assert any(
        t in ("已开始同步", "未登记中心服务器，无法同步") for t in citizen_run.screen("maintenance_sync_now")["texts"]
    )


def test_the_keypads_ask_for_a_password_in_chinese(citizen_run):
    texts = citizen_run.screen("signed_out")["texts"] + citizen_run.screen("staff_pin")["texts"]
    assert "PIN" not in " ".join(texts)
    assert any("密码" in t for t in texts)
