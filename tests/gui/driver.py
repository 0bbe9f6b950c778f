"""Runs the real kiosk app in this process under a display and walks a citizen's and a clerk's whole day.

    python tests/gui/driver.py SETTINGS OUT_DIR [full_day|disk_full]

Writes OUT_DIR/<screen>.png for every screen and OUT_DIR/summary.json (texts, labels cut off,
small touch targets, the QR link shown); the GUI tests read those and the outbox afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

CLERK, CLERK_PIN, ADMIN_PIN = "1001", "1111", "8888"
CASE_HTTP, CASE_STAFF, CASE_TIMEOUT = "2026112700017", "ZW2026-0042", "2026112700018"
MOBILE = "13800138000"
MATTER_2 = "11450102MB1234567X4000112"


def full_day(robot, clock):
    """Sign in, rate a case badly over HTTP and leave a mobile number (a wrong one first), rate one from the staff
    menu in large text and skip the number, let one time out, pause and resume, look at maintenance, sign out."""
    from kiosk.view.widgets import HoldArea, LevelButton

    app = robot.app
    rules = app.flow.config.rules
    yield robot.screen("signed_out")
    yield from robot.shoot("signed_out")

    robot.type_keys(CLERK)
    robot.tap("下一步")
    robot.type_keys("9999")
    robot.tap("签到")
    yield robot.until("wrong PIN message", lambda: app.flow.state.message != "")
    yield from robot.shoot("signed_out_wrong_pin")
    robot.type_keys(CLERK_PIN)
    robot.tap("签到")
    yield robot.screen("idle")
    yield from robot.shoot("idle")

    status, answer = robot.http_trigger(CASE_HTTP, MATTER_2)
    robot.summary["http_trigger"] = [status, answer]
    yield robot.screen("prompt")
    robot.summary["qr_url"] = app.flow.state.prompt.qr_url
    yield from robot.shoot("prompt")

    level_2 = robot.find(cls=LevelButton, where=lambda w: w.level == 2)
    level_5 = robot.find(cls=LevelButton, where=lambda w: w.level == 5)
    robot.tap(level_2)
    robot.tap(level_5)  # a second tap before the screen changes: one tap counts
    yield robot.screen("reasons")
    yield from robot.shoot("reasons")
    robot.tap("提交")  # a bad rating needs a reason first
    yield robot.until("reason required", lambda: app.flow.state.message != "")
    yield from robot.shoot("reasons_need_one")
    robot.tap("窗口人员业务不熟练")
    robot.tap("服务态度生硬")
    robot.tap("窗口人员业务不熟练")  # changed her mind: only 214 stays
    yield robot.frames(2)
    submit = robot.button("提交")
    robot.tap(submit)
    robot.tap(submit)  # a double tap stores one rating
    yield robot.screen("contact")  # the 差评 is stored; a number for 核实 and 回访 may follow
    yield from robot.shoot("contact")
    robot.summary["contact_keys_px"] = {t: list(robot.button(t).size) for t in ("5", "0", "删除", "跳过", "确定")}
    robot.summary["touch_px"] = app.touch
    robot.type_keys(MOBILE[:7])
    robot.tap("确定")  # seven digits: not a number yet
    yield robot.until("bad number message", lambda: app.flow.state.message != "")
    yield from robot.shoot("contact_bad_number")
    robot.type_keys("9")
    robot.tap("删除")  # a wrong key taken back
    robot.type_keys(MOBILE[7:])
    yield robot.until("eleven digits", lambda: app.flow.state.contact == MOBILE)
    yield from robot.shoot("contact_typed")
    confirm = robot.button("确定")
    robot.tap(confirm)
    robot.tap(confirm)  # a double tap stores one number
    yield robot.screen("thanks")
    yield from robot.shoot("thanks")
    clock.advance(rules.thanks_s + 1)
    yield robot.screen("idle")

    yield from staff_menu(robot, clock)
    robot.tap("发起评价")
    yield robot.screen("case_entry")
    robot.type_keys(CASE_HTTP)
    robot.tap("发起评价")
    yield robot.until("refusal shown", lambda: app.manager.current_screen.message != "")
    yield from robot.shoot("case_entry_refused")
    for _ in CASE_HTTP:
        robot.tap("删除")
    robot.type_keys(CASE_STAFF)
    robot.tap("食品经营许可")
    yield from robot.shoot("case_entry")
    clock.advance(rules.min_prompt_interval_s + 1)
    robot.tap("发起评价")
    yield robot.screen("prompt")
    robot.tap("大字")
    yield robot.until("large text", lambda: app.large_text)
    yield from robot.shoot("prompt_large")
    robot.tap(robot.find(cls=LevelButton, where=lambda w: w.level == 1))
    yield robot.screen("reasons")
    robot.tap(robot.find(where=lambda w: getattr(w, "value", None) == 113))
    yield from robot.shoot("reasons_large")
    robot.tap("提交")
    yield robot.screen("contact")
    robot.type_keys("139")
    yield from robot.shoot("contact_large")
    robot.tap("跳过")  # typed, then skipped: no number is kept
    yield robot.screen("thanks")
    yield from robot.shoot("thanks_large")
    clock.advance(rules.thanks_s + 1)
    yield robot.screen("idle")
    yield from robot.shoot("idle_large")
    robot.summary["large_text_after"] = app.large_text

    press_escape()  # kiosk mode: Escape does not close the app
    yield robot.frames(2)
    clock.advance(rules.min_prompt_interval_s + 1)
    scan_barcode(CASE_TIMEOUT)  # the clerk scans the case slip while the idle screen shows
    yield robot.screen("prompt")
    clock.advance(rules.prompt_timeout_s + 1)
    yield robot.screen("idle")
    yield from robot.shoot("idle_timeout")
    clock.advance(7)  # the message goes away by itself after a few seconds
    yield robot.tick()
    yield robot.frames(2)
    robot.summary["idle_texts_later"] = robot.audit()["texts"]

    yield from staff_menu(robot, clock)
    robot.tap("暂停服务")
    yield robot.screen("paused")
    yield from robot.shoot("paused")
    yield from hold(robot, clock, robot.find(cls=HoldArea))
    yield robot.screen("staff_pin")
    yield from robot.shoot("staff_pin_resume")
    robot.type_keys(CLERK_PIN)
    robot.tap("确定")
    yield robot.screen("idle")

    yield from staff_menu(robot, clock)
    app.kiosk.outbox.set_state("clock_offset_s", -1234.5)  # as the sync worker learns it: a clock far ahead
    robot.tap("维护")
    yield robot.screen("admin_pin")
    yield from robot.shoot("admin_pin")
    robot.type_keys(ADMIN_PIN)
    robot.tap("确定")
    yield robot.screen("maintenance")
    yield from robot.shoot("maintenance")
    robot.tap("返回")
    yield robot.screen("idle")

    yield from staff_menu(robot, clock, shoot=False)
    robot.tap("签退")
    yield robot.screen("signed_out")
    yield from robot.shoot("signed_out_again")


def disk_full(robot, clock):
    """The disk fills up while a citizen rates: no thanks, a calm message, nothing stored is lost."""
    from kiosk.errors import OutboxFull
    from kiosk.flow import SignIn, Trigger
    from kiosk.view.widgets import LevelButton

    app = robot.app
    app.send(SignIn(CLERK, CLERK_PIN))
    yield robot.screen("idle")
    app.submit_trigger(Trigger(CASE_HTTP, None, source="http"))
    yield robot.screen("prompt")
    robot.tap(robot.find(cls=LevelButton, where=lambda w: w.level == 4))
    yield robot.screen("reasons")
    app.flow.outbox = _FullDisk(app.flow.outbox, OutboxFull)
    robot.tap("提交")
    yield robot.until("storage message", lambda: app.manager.current_screen.message != "")
    yield from robot.shoot("reasons_disk_full")
    app.flow.outbox = app.flow.outbox.outbox  # space freed: the same tap now stores the rating
    robot.tap("提交")
    yield robot.screen("thanks")
    yield from robot.shoot("thanks_after_disk_full")


class _FullDisk:
    """An outbox on a full disk: every write is refused (reads still work)."""

    def __init__(self, outbox, error):
        self.outbox, self.error = outbox, error

    def append(self, *_args, **_kwargs):
        raise self.error("存储空间已满，本条记录未能保存；已保存的记录完好")

    def __getattr__(self, name):
        return getattr(self.outbox, name)


SCENARIOS = {"full_day": full_day, "disk_full": disk_full}


def staff_menu(robot, clock, shoot: bool = True):
    from kiosk.view.widgets import HoldArea

    yield from hold(robot, clock, robot.find(cls=HoldArea))
    yield robot.screen("staff_pin")
    if shoot and not any(s["name"] == "staff_pin" for s in robot.summary["screens"]):
        yield from robot.shoot("staff_pin")
    robot.type_keys(CLERK_PIN)
    robot.tap("确定")
    yield robot.screen("staff_menu")
    if shoot and not any(s["name"] == "staff_menu" for s in robot.summary["screens"]):
        yield from robot.shoot("staff_menu")


def scan_barcode(text: str) -> None:
    """A keyboard-wedge scanner: the characters in one fast burst, then Enter."""
    from kivy.core.window import Window

    for ch in text:
        Window.dispatch("on_textinput", ch)
    Window.dispatch("on_key_down", 13, 40, None, [])


def press_escape() -> None:
    from kivy.core.window import Window

    Window.dispatch("on_key_down", 27, 41, None, [])
    Window.dispatch("on_keyboard", 27, 41, None, [])


def hold(robot, clock, widget):
    """Press, let 1.6 s pass on the kiosk's clock, release."""
    touch = robot.press(widget)
    yield robot.tick()
    clock.advance(1.6)
    yield robot.tick()
    yield robot.tick()
    touch.touch_up()


def main(settings: str, out_dir: str, scenario: str = "full_day") -> int:
    from bench.robot import MovableClock
    from kiosk.app import run

    clock = MovableClock(frozen=True)  # the kiosk's time moves only when the script moves it

    def script(app):
        from bench.robot import Robot

        robot = Robot(app, Path(out_dir))
        import citizen_scenarios  # run as a script: this folder is on sys.path

        robot.play({**SCENARIOS, **citizen_scenarios.SCENARIOS}[scenario](robot, clock))

    return run(settings, clock=clock, script=script)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
