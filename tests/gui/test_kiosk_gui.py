"""The real kiosk under Xvfb, at 1280×800 and 1024×600: a whole day driven by simulated touches.

Each size runs once (a subprocess: Kivy allows one window per process); the tests then check what a
citizen, a clerk and an auditor would check: every screen photographed, nothing cut off, large touch
targets, the QR code on screen reads back the signed link, the ratings stored with their reasons and
a chain that verifies, and no screen after the choice ever shows the level.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from haochaping.levels import LEVEL_LABELS
from haochaping.qrtoken import verify_token
from kiosk.flow import Screen
from kiosk.identity import load_or_create_identity
from kiosk.outbox import Outbox

from .conftest import keep_screenshots, kivy_env, write_settings
from .driver import CASE_HTTP, CASE_STAFF, CASE_TIMEOUT, MATTER_2, MOBILE

pytestmark = pytest.mark.gui

DRIVER = Path(__file__).with_name("driver.py")
# (width, height, screen_dpi): the sample's 96 dpi at both sizes, and a 10.1-inch 1280×800 tablet (~150 dpi)
# where a 15 mm touch target is 89 px.
SIZES = [(1280, 800, 96), (1024, 600, 96), (1280, 800, 150)]


@dataclass
class Day:
    size: tuple[int, int]
    out: Path
    data: Path
    summary: dict
    stderr: str
    returncode: int

    def screen(self, name: str) -> dict:
        return next(s for s in self.summary["screens"] if s["name"] == name)


@pytest.fixture(scope="module", params=SIZES, ids=[f"{w}x{h}@{dpi}dpi" for w, h, dpi in SIZES])
def day(request, xvfb, tmp_path_factory) -> Day:
    width, height, dpi = request.param
    label = f"{width}x{height}" + (f"@{dpi}dpi" if dpi != 96 else "")
    tmp = tmp_path_factory.mktemp(f"kiosk-{label}")
    # A sound file that is not there: the kiosk logs it and stays silent.
    settings = write_settings(tmp, width, height, screen_dpi=str(dpi), sound_file=f'"{tmp / "missing-ding.wav"}"')
    out = tmp / "screens"
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(settings), str(out)],
        env=kivy_env(tmp, xvfb),
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {"screens": [], "error": "none"}
    keep_screenshots(out, label)
    return Day((width, height), out, tmp / "data", summary, done.stderr[-3000:], done.returncode)


def test_the_whole_day_ran_to_the_end(day):
    """Escape was pressed on the idle screen and a missing sound file was configured: neither stopped it."""
    assert day.returncode == 0, day.stderr
    assert day.summary["error"] is None, day.summary["error"]
    assert day.summary["size"] == list(day.size)


def test_every_screen_was_photographed_at_the_window_size(day):
    assert {s["screen"] for s in day.summary["screens"]} == {s.value for s in Screen}
    for shot in day.summary["screens"]:
        with Image.open(day.out / shot["shot"]) as image:
            assert image.size == day.size
            assert len(image.convert("L").getcolors(maxcolors=1 << 16) or [0] * 99) > 8  # drawn, not blank


def test_no_text_is_cut_off_and_nothing_leaves_the_window(day):
    for shot in day.summary["screens"]:
        assert shot["cut_off"] == [], shot["name"]
        assert shot["outside"] == [], shot["name"]


def test_the_maintenance_screen_warns_of_a_clock_far_off(day):
    texts = day.screen("maintenance")["texts"]
    assert "设备编号" in texts and "时钟偏差" in texts
    assert any("【警告】本机时钟快了 1234 秒" in t for t in texts), texts


def test_every_touch_target_is_at_least_15_mm(day):
    for shot in day.summary["screens"]:
        assert shot["too_small"] == [], shot["name"]


def test_the_prompt_shows_the_case_the_matter_and_five_levels_best_first(day):
    texts = day.screen("prompt")["texts"]
    assert any(CASE_HTTP in t and "食品经营许可" in t for t in texts)
    labels = [t for t in texts if t in LEVEL_LABELS.values()]
    assert labels == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert "扫码评价" in texts
    assert any(t.startswith("还剩 ") and t.endswith(" 秒") for t in texts)


def test_the_qr_code_on_screen_reads_back_a_link_signed_for_this_case(day):
    with Image.open(day.out / "prompt.png") as image:
        found = zxingcpp.read_barcodes(image)
    assert [r.text for r in found] == [day.summary["qr_url"]]
    token = day.summary["qr_url"].rsplit("/r/", 1)[1]
    identity = load_or_create_identity(day.data)
    from datetime import UTC, datetime, timedelta

    claims = verify_token(token, lambda _d: identity.secret, datetime.now(UTC) + timedelta(hours=1), timedelta(days=7))
    assert (claims.device_id, claims.case_no) == (identity.device_id, CASE_HTTP)


def test_the_ratings_are_stored_with_reasons_case_clerk_and_window_and_the_chain_holds(day):
    box = Outbox(day.data / "outbox.db", "reader")
    try:
        ratings = list(box.records(kind="rating"))
        timeouts = list(box.records(kind="timeout"))
        prompts = list(box.records(kind="prompt"))
        kinds = [r["kind"] for r in box.records()]
        assert box.verify_chain() is None
    finally:
        box.close()
    got = [(r["case_no"], r["matter_code"], r["level"], r["reasons"], r["detail"]["source"]) for r in ratings]
    assert got == [
        (CASE_HTTP, MATTER_2, 2, [214], "http"),
        (CASE_STAFF, MATTER_2, 1, [113], "staff"),
    ]
    assert all((r["clerk_no"], r["window"], r["channel"]) == ("1001", "A01", 4) for r in ratings)
    assert [t["case_no"] for t in timeouts] == [CASE_TIMEOUT]
    assert [p["detail"]["source"] for p in prompts] == ["http", "staff", "barcode"]
    assert kinds[0] == "sign_in" and kinds[-1] == "sign_out"
    assert {"pause", "resume"} <= set(kinds)


def test_no_screen_after_the_choice_shows_the_level(day):
    after = ("contact", "contact_typed", "contact_large", "thanks", "thanks_large", "idle_large", "idle_timeout")
    for name in (*after, "staff_pin", "staff_menu", "maintenance"):
        texts = day.screen(name)["texts"]
        assert not any(label in t for t in texts for label in LEVEL_LABELS.values()), (name, texts)
    assert "谢谢您的评价" in day.screen("thanks")["texts"]


def test_large_text_mode_makes_the_prompt_bigger_and_stays_legible(day):
    assert day.screen("prompt_large")["font_scale"] == pytest.approx(1.4 * day.screen("prompt")["font_scale"])
    assert day.summary["large_text_after"] is False  # the next citizen starts with normal text again


def test_clerk_messages_are_shown_where_they_matter(day):
    assert "工号或 PIN 不正确" in day.screen("signed_out_wrong_pin")["texts"]
    assert "请至少选择一项不满意的原因" in day.screen("reasons_need_one")["texts"]
    assert any("已评价，不能重复发起" in t for t in day.screen("case_entry_refused")["texts"])
    assert "未评价，已超时" in day.screen("idle_timeout")["texts"]
    assert "未评价，已超时" not in day.summary["idle_texts_later"]
    assert day.summary["http_trigger"][0] == 200


def test_a_full_disk_shows_a_calm_message_and_no_thanks(xvfb, tmp_path):
    settings = write_settings(tmp_path, 1024, 600)
    out = tmp_path / "screens"
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(settings), str(out), "disk_full"],
        env=kivy_env(tmp_path, xvfb),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    keep_screenshots(out, "disk_full")
    assert summary["error"] is None, summary["error"]
    full = next(s for s in summary["screens"] if s["name"] == "reasons_disk_full")
    assert full["screen"] == "reasons"
    assert any("存储空间已满" in t for t in full["texts"])
    assert full["cut_off"] == [] and full["outside"] == []
    box = Outbox(tmp_path / "data" / "outbox.db", "reader")
    try:
        assert [(r["case_no"], r["level"]) for r in box.records(kind="rating")] == [(CASE_HTTP, 4)]
        assert box.verify_chain() is None
    finally:
        box.close()


# ---------------------------------------------------------------- a contact for 核实 and 回访


def test_the_contact_screen_asks_with_the_configured_consent_and_big_keys(day):
    from haochaping.config import load_hall_config

    consent = load_hall_config(Path(__file__).resolve().parents[2] / "config").rules.contact.consent
    shot = day.screen("contact")
    assert "留下手机号，便于核实和回访（可不填）" in shot["texts"]
    assert consent in shot["texts"]
    assert {"跳过", "确定", "删除", *"0123456789"} <= set(shot["texts"])
    touch = day.summary["touch_px"]
    keys = day.summary["contact_keys_px"]
    for key in ("5", "0", "删除"):
        assert min(keys[key]) >= 1.5 * touch, (key, keys[key], touch)  # well over 15 mm: older hands
    for key in ("跳过", "确定"):
        assert min(keys[key]) >= 1.3 * touch, (key, keys[key], touch)


def test_a_bad_number_is_explained_and_the_corrected_one_is_stored_with_its_rating(day):
    assert "手机号应为 11 位，现在是 7 位\n请补全，或点“跳过”" in day.screen("contact_bad_number")["texts"]
    assert "138 0013 8000" in day.screen("contact_typed")["texts"]
    box = Outbox(day.data / "outbox.db", "reader")
    try:
        ratings = {r["case_no"]: r for r in box.records(kind="rating")}
        contacts = list(box.records(kind="contact"))
        kinds = [r["kind"] for r in box.records()]
    finally:
        box.close()
    assert [(c["case_no"], c["detail"]["mobile"], c["detail"]["rating"]) for c in contacts] == [
        (CASE_HTTP, MOBILE, ratings[CASE_HTTP]["id"])
    ]  # one number (a double tap on 确定 stores one), none for the case whose citizen typed 139 and skipped
    assert kinds.index("contact") == kinds.index("rating") + 1  # the rating first, then the number


def test_the_number_is_shown_on_the_contact_screen_only(day):
    shown = ("138 0013 8000", MOBILE, "0013 8000", "138****8000")
    for shot in day.summary["screens"]:
        if shot["screen"] == "contact":
            continue
        assert not any(part in text for text in shot["texts"] for part in shown), shot["name"]


def test_the_contact_screen_in_large_text_fits_and_is_larger(day):
    assert day.screen("contact_large")["font_scale"] == pytest.approx(1.4 * day.screen("contact")["font_scale"])
    assert "139" in day.screen("contact_large")["texts"]


def test_the_kiosk_logs_never_hold_the_number(day):
    logs = list((day.data / "logs").glob("kiosk.log*"))
    assert logs
    assert not any(MOBILE in log.read_text(encoding="utf-8", errors="replace") for log in logs)
