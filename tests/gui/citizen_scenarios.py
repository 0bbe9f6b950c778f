"""Scenarios of what a citizen meets at the window, run by driver.py (``citizen``): a wrong tap undone with
返回重选, a bad tap left without a reason, a good level left on the reasons screen."""

from __future__ import annotations

CLERK, CLERK_PIN = "1001", "1111"
CASE_UNDO, CASE_LEFT_BAD, CASE_LEFT_GOOD = "2026112700031", "2026112700032", "2026112700033"


def citizen(robot, clock):
    from kiosk.flow import SignIn, Trigger
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


def _gap(a, b) -> float:
    """Horizontal distance in pixels between two widgets of one row."""
    left, right = sorted((a, b), key=lambda w: w.to_window(w.x, w.y)[0])
    return right.to_window(right.x, right.y)[0] - (left.to_window(left.x, left.y)[0] + left.width)


SCENARIOS = {"citizen": citizen}
