"""Scenarios of what a citizen meets at the window, run by driver.py (``citizen``): a wrong tap undone with
返回重选, a bad tap left without a reason, a good level left on the reasons screen, two timeouts in a row whose
notices clear, 大字 on the prompt and reasons, the signed-out keypad and the maintenance screen in China time."""

from __future__ import annotations

import time

from kiosk.flow import PHONE_HEARD_GRACE, PHONE_HEARD_NOTICE, PHONE_THANKS

CLERK, CLERK_PIN, ADMIN_PIN = "1001", "1111", "8888"
CASE_UNDO, CASE_LEFT_BAD, CASE_LEFT_GOOD = "2026112700031", "2026112700032", "2026112700033"
CASE_T1, CASE_T2, CASE_LARGE = "2026112700034", "2026112700035", "2026112700036"
LAST_SYNC_UTC = "2026-11-27T07:31:32+00:00"  # 15:31:32 in China


def citizen(robot, clock):
    from kiosk.flow import SignIn, StaffHold, Trigger
    from kiosk.view.widgets import LevelButton

    app = robot.app
    rules = app.flow.config.rules

    def level(n):
        return robot.find(cls=LevelButton, where=lambda w: w.level == n)

    def next_case(case_no):
        clock.advance(rules.min_prompt_interval_s + 1)
        app.submit_trigger(Trigger(case_no, None, source="http"))

    app.send(SignIn(CLERK, CLERK_PIN))
    yield robot.screen("idle")

    # 误操作: 非常不满意 tapped by mistake, taken back with 返回重选, then 非常满意 chosen.
    app.submit_trigger(Trigger(CASE_UNDO, None, source="http"))
    yield robot.screen("prompt")
    robot.tap(level(1))
    yield robot.screen("reasons")
    yield from robot.shoot("reasons_bad")
    robot.summary["reselect_gap_px"] = _gap(robot.button("返回重选"), robot.button("提交"))
    robot.summary["reselect_size_px"] = list(robot.button("返回重选").size)
    robot.tap("返回重选")
    yield robot.screen("prompt")
    yield from robot.shoot("prompt_after_reselect")
    robot.tap(level(5))
    yield robot.screen("reasons")
    yield from robot.shoot("reasons_good")
    robot.tap("提交")
    yield robot.screen("thanks")
    clock.advance(rules.thanks_s + 1)
    yield robot.screen("idle")

    # A bad level tapped and left: the countdown ends, the citizen (and the clerk) see 谢谢.
    next_case(CASE_LEFT_BAD)
    yield robot.screen("prompt")
    robot.tap(level(2))
    yield robot.screen("reasons")
    clock.advance(rules.reasons_timeout_s + 1)
    yield robot.screen("thanks")
    yield from robot.shoot("thanks_after_bad_left")
    clock.advance(rules.thanks_s + 1)
    yield robot.screen("idle")

    # A good level left on the reasons screen: 谢谢 too.
    next_case(CASE_LEFT_GOOD)
    yield robot.screen("prompt")
    robot.tap(level(4))
    yield robot.screen("reasons")
    clock.advance(rules.reasons_timeout_s + 1)
    yield robot.screen("thanks")
    yield from robot.shoot("thanks_after_good_left")
    clock.advance(rules.thanks_s + 1)
    yield robot.screen("idle")

    # Two timeouts in a row: each notice shows, then clears after its time.
    for n, case_no in enumerate((CASE_T1, CASE_T2), 1):
        next_case(case_no)
        yield robot.screen("prompt")
        clock.advance(rules.prompt_timeout_s + 1)
        yield robot.screen("idle")
        yield from robot.shoot(f"idle_timeout_{n}")
        clock.advance(7)
        yield robot.until("notice cleared", lambda: app.flow.state.message == "")
        yield robot.frames(3)
        robot.summary[f"idle_texts_after_{n}"] = robot.audit()["texts"]

    # 大字: the QR hint and the reason tiles of a bad and a good level.
    next_case(CASE_LARGE)
    yield robot.screen("prompt")
    robot.tap("大字")
    yield robot.until("large text", lambda: app.large_text)
    yield from robot.shoot("prompt_large")
    robot.tap(level(2))  # its tiles were made earlier, in normal text
    yield robot.screen("reasons")
    yield from robot.shoot("reasons_bad_large")
    robot.summary["bad_tile_fonts"] = _tile_fonts(robot)
    robot.tap("返回重选")
    yield robot.screen("prompt")
    robot.tap(level(3))  # its tiles are made now, in large text
    yield robot.screen("reasons")
    yield from robot.shoot("reasons_good_large")
    robot.summary["good_tile_fonts"] = _tile_fonts(robot)
    robot.tap("提交")
    yield robot.screen("thanks")
    clock.advance(rules.thanks_s + 1)
    yield robot.screen("idle")

    # The maintenance screen: last sync in China time, the window named once, 立即同步.
    app.kiosk.outbox.set_state("last_sync_at", LAST_SYNC_UTC)
    app.send(StaffHold())
    yield robot.screen("staff_pin")
    yield from robot.shoot("staff_pin")
    robot.type_keys(CLERK_PIN)
    robot.tap("确定")
    yield robot.screen("staff_menu")
    robot.tap("维护")
    yield robot.screen("admin_pin")
    robot.type_keys(ADMIN_PIN)
    robot.tap("确定")
    yield robot.screen("maintenance")
    yield from robot.shoot("maintenance")
    robot.tap("立即同步")
    yield robot.until("sync message", lambda: app.manager.current_screen.message != "")
    yield from robot.shoot("maintenance_sync_now")
    robot.tap("返回")
    yield robot.screen("idle")
    app.send(StaffHold())
    yield robot.screen("staff_pin")
    robot.type_keys(CLERK_PIN)
    robot.tap("确定")
    yield robot.screen("staff_menu")
    robot.tap("签退")
    yield robot.screen("signed_out")
    yield from robot.shoot("signed_out")


def _tile_fonts(robot) -> list[float]:
    from kiosk.view.widgets import BigToggle

    return sorted({round(w.font_size, 1) for w in robot.visible_widgets() if isinstance(w, BigToggle) and w.value})


def _gap(a, b) -> float:
    """Horizontal distance in pixels between two widgets of one row."""
    left, right = sorted((a, b), key=lambda w: w.to_window(w.x, w.y)[0])
    return right.to_window(right.x, right.y)[0] - (left.to_window(left.x, left.y)[0] + left.width)


CASE_PHONE = "2026112700041"
PHONE_NOTICE = PHONE_THANKS


def phone_during_prompt(robot, clock):
    """Enrolled with a real server: a prompt comes up, the test rates the case by phone through the server's QR page
    (the link is written to qr_url.txt), and the kiosk thanks the citizen and goes back to idle by itself."""
    from kiosk.flow import SignIn, Trigger

    app = robot.app
    app.send(SignIn(CLERK, CLERK_PIN))
    yield robot.screen("idle")
    yield robot.until("the sync worker", lambda: app.sync is not None)
    app.submit_trigger(Trigger(CASE_PHONE, None, source="http"))
    yield robot.screen("prompt")
    yield from robot.shoot("prompt_before_phone")
    (robot.out_dir / "qr_url.txt").write_text(app.flow.state.prompt.qr_url)
    yield robot.until("the phone rating notice", lambda: app.flow.state.message == PHONE_HEARD_NOTICE)
    robot.summary["phone_notice_wall_s"] = time.time()  # real time: the kiosk's own clock is frozen in tests
    yield robot.screen("prompt")  # the levels stay a moment, for a citizen who did not rate by phone
    yield from robot.shoot("prompt_phone_heard")
    clock.advance(PHONE_HEARD_GRACE.total_seconds() + 1)
    yield robot.until("the thanks on idle", lambda: app.flow.state.message == PHONE_NOTICE)
    yield robot.screen("idle")
    yield from robot.shoot("idle_phone_rated")


SCENARIOS = {"citizen": citizen, "phone_during_prompt": phone_during_prompt}
