"""End to end, two real processes: an ``hcp server`` on 127.0.0.1 and the real kiosk app under Xvfb, enrolled with
it. While the prompt is on the kiosk's screen the case is rated through the server's QR page (as a phone would):
the server tells the kiosk over the trigger long-poll, the kiosk thanks the citizen and returns to idle, and no
timeout is recorded. Screenshots in screenshots/phone_during_prompt/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from bench.sync import LocalServer
from kiosk.identity import load_or_create_identity
from kiosk.outbox import Outbox

from .citizen_scenarios import CASE_PHONE, PHONE_HEARD_NOTICE, PHONE_NOTICE
from .conftest import keep_screenshots, kivy_env, write_settings

pytestmark = [pytest.mark.gui, pytest.mark.slow]

DRIVER = Path(__file__).with_name("driver.py")


def rate_by_phone(qr_url: str, level: int = 5) -> datetime:
    """GET the QR page, POST the form with its nonce, as a phone's browser does; returns when it was stored."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(qr_url, timeout=10) as page:
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.read().decode()).group(1)
    form = urllib.parse.urlencode({"level": str(level), "nonce": nonce}).encode()
    with opener.open(urllib.request.Request(qr_url, data=form, method="POST"), timeout=10) as done:
        assert done.status == 200 and "感谢您的评价" in done.read().decode()
    return datetime.now().astimezone()


def wait_for(path: Path, proc: subprocess.Popen, limit_s: float = 60) -> str:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, "the kiosk stopped before its prompt came up"
        assert time.monotonic() < deadline, f"no {path.name} after {limit_s} s"
        time.sleep(0.05)
    return path.read_text()


def test_a_phone_rating_during_the_live_prompt_ends_it_on_the_kiosk_without_a_timeout(xvfb, tmp_path):
    server = LocalServer(tmp_path / "server")
    server.import_config()
    server.start()
    try:
        settings = write_settings(tmp_path, 1024, 600, qr_base_url=f'"{server.url}"')
        enrol = [sys.executable, "-m", "haochaping.cli", "kiosk", "enroll", "--server", server.url]
        enrol += ["--code", server.enrolment_code("A01"), "--settings", str(settings)]
        done = subprocess.run(enrol, capture_output=True, text=True, timeout=60, env=kivy_env(tmp_path, None))
        assert done.returncode == 0, done.stderr
        out = tmp_path / "screens"
        kiosk = subprocess.Popen(
            [sys.executable, str(DRIVER), str(settings), str(out), "phone_during_prompt"],
            env=kivy_env(tmp_path, xvfb),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            qr_url = wait_for(out / "qr_url.txt", kiosk)
            assert qr_url.startswith(server.url + "/r/")
            phoned_at = rate_by_phone(qr_url)
            _, stderr = kiosk.communicate(timeout=120)
        finally:
            if kiosk.poll() is None:
                kiosk.kill()
                kiosk.wait()
        summary = json.loads((out / "summary.json").read_text())
        keep_screenshots(out, "phone_during_prompt")
        assert kiosk.returncode == 0, stderr[-3000:]
        assert summary["error"] is None, summary["error"]
        heard = next(s for s in summary["screens"] if s["name"] == "prompt_phone_heard")
        assert PHONE_HEARD_NOTICE in heard["texts"] and heard["screen"] == "prompt"  # the levels stay a moment
        idle = next(s for s in summary["screens"] if s["name"] == "idle_phone_rated")
        assert PHONE_NOTICE in idle["texts"] and idle["screen"] == "idle"

        device_id = load_or_create_identity(tmp_path / "data").device_id
        box = Outbox(tmp_path / "data" / "outbox.db", "reader")
        try:
            kinds = [(r["kind"], r["case_no"]) for r in box.records() if r["case_no"]]
            ended = next(r for r in box.records(kind="phone_rated"))
        finally:
            box.close()
        assert kinds == [("prompt", CASE_PHONE), ("phone_rated", CASE_PHONE)]  # no timeout, no kiosk rating
        assert ended["case_no"] == CASE_PHONE
        seconds = summary["phone_notice_wall_s"] - phoned_at.timestamp()
        print(f"the kiosk showed the phone notice {seconds:.2f} s after the phone rating was stored")
        rated = server.query("SELECT id, channel FROM records WHERE case_no = ? AND kind = 'rating'", CASE_PHONE)
        assert rated == [(f"qr:{CASE_PHONE}", 3)]
        roles = server.query("SELECT record_id, role FROM ratings WHERE case_no = ?", CASE_PHONE)
        assert roles == [(f"qr:{CASE_PHONE}", "counting")]
        assert server.query("SELECT count(*) FROM records WHERE device_id = ? AND kind = 'timeout'", device_id) == [
            (0,)
        ]
    finally:
        server.stop()
