"""The screen flow, driven by tables of events with an injected clock; the outbox is a real file."""

from __future__ import annotations

import pytest
from testkit import example_flow

from kiosk.errors import TriggerRefused
from kiosk.flow import (
    AdminAccess,
    AdminPin,
    Back,
    Screen,
    SignIn,
    StaffChoose,
    StaffHold,
    StaffPin,
    Submit,
    TapLevel,
    Tick,
    ToggleReason,
    Trigger,
)


@pytest.fixture
def flow(hall_config, outbox, clock):
    return example_flow(hall_config, outbox, clock)


def run(flow, clock, steps):
    """Each step is (event, expected screen) or (seconds to wait, expected screen)."""
    for i, (event, expected) in enumerate(steps):
        if isinstance(event, int | float):
            clock.advance(event)
            event = Tick()
        flow.handle(event)
        assert flow.screen is expected, f"step {i}: {event} → {flow.screen}, expected {expected}"


SIGNED_IN = [(SignIn("1001", "1111"), Screen.IDLE)]


@pytest.mark.parametrize(
    "name, steps",
    [
        (
            "good rating without reasons",
            [
                (Trigger("C1"), Screen.PROMPT),
                (TapLevel(5), Screen.REASONS),
                (Submit(), Screen.THANKS),
                (4, Screen.IDLE),
            ],
        ),
        (
            "bad rating needs a reason",
            [
                (Trigger("C1"), Screen.PROMPT),
                (TapLevel(1), Screen.REASONS),
                (Submit(), Screen.REASONS),
                (ToggleReason(115), Screen.REASONS),
                (Submit(), Screen.THANKS),
            ],
        ),
        (
            "a reason of another level is not taken",
            [
                (Trigger("C1"), Screen.PROMPT),
                (TapLevel(2), Screen.REASONS),
                (ToggleReason(115), Screen.REASONS),
                (Submit(), Screen.REASONS),
            ],
        ),
        (
            "prompt times out",
            [(Trigger("C1"), Screen.PROMPT), (59, Screen.PROMPT), (1, Screen.IDLE)],
        ),
        (
            "good rating submits itself when the citizen walks away",
            [(Trigger("C1"), Screen.PROMPT), (TapLevel(4), Screen.REASONS), (60, Screen.THANKS)],
        ),
        (
            "bad rating without reason times out unrated",
            [(Trigger("C1"), Screen.PROMPT), (TapLevel(2), Screen.REASONS), (60, Screen.IDLE)],
        ),
        (
            "taps after the choice are ignored",
            [
                (Trigger("C1"), Screen.PROMPT),
                (TapLevel(5), Screen.REASONS),
                (Submit(), Screen.THANKS),
                (TapLevel(1), Screen.THANKS),
                (Submit(), Screen.THANKS),
            ],
        ),
        (
            "staff trigger by press-and-hold",
            [
                (StaffHold(), Screen.STAFF_PIN),
                (StaffPin("0000"), Screen.STAFF_PIN),
                (StaffPin("1111"), Screen.STAFF_MENU),
                (StaffChoose("trigger"), Screen.CASE_ENTRY),
                (Trigger("C9"), Screen.PROMPT),
            ],
        ),
        (
            "pause and resume",
            [
                (StaffHold(), Screen.STAFF_PIN),
                (StaffPin("1111"), Screen.STAFF_MENU),
                (StaffChoose("pause"), Screen.PAUSED),
                (StaffHold(), Screen.STAFF_PIN),
                (Back(), Screen.PAUSED),
                (StaffHold(), Screen.STAFF_PIN),
                (StaffPin("1111"), Screen.IDLE),
            ],
        ),
        (
            "sign out",
            [
                (StaffHold(), Screen.STAFF_PIN),
                (StaffPin("1111"), Screen.STAFF_MENU),
                (StaffChoose("sign_out"), Screen.SIGNED_OUT),
            ],
        ),
        (
            "maintenance from the staff menu",
            [
                (StaffHold(), Screen.STAFF_PIN),
                (StaffPin("1111"), Screen.STAFF_MENU),
                (StaffChoose("maintenance"), Screen.ADMIN_PIN),
                (AdminPin("1111"), Screen.ADMIN_PIN),
                (AdminPin("8888"), Screen.MAINTENANCE),
                (Back(), Screen.IDLE),
            ],
        ),
        ("staff screens fall back to idle", [(StaffHold(), Screen.STAFF_PIN), (60, Screen.IDLE)]),
    ],
)
def test_signed_in_paths(flow, clock, name, steps):
    run(flow, clock, SIGNED_IN + steps)


@pytest.mark.parametrize(
    "steps",
    [
        [(SignIn("1001", "9999"), Screen.SIGNED_OUT), (SignIn("1001", "1111"), Screen.IDLE)],
        [(SignIn("nobody", "1111"), Screen.SIGNED_OUT)],
        [
            (AdminAccess(), Screen.ADMIN_PIN),
            (AdminPin("8888"), Screen.MAINTENANCE),
            (Back(), Screen.SIGNED_OUT),
        ],
        [(TapLevel(5), Screen.SIGNED_OUT), (Submit(), Screen.SIGNED_OUT)],
    ],
)
def test_signed_out_paths(flow, clock, steps):
    run(flow, clock, steps)


def test_rating_is_stored_with_everything_the_server_needs(flow, clock, outbox):
    run(
        flow,
        clock,
        SIGNED_IN + [(Trigger("C1", "11450102MB1234567X4000112", "http"), Screen.PROMPT)],
    )
    clock.advance(7)
    run(
        flow,
        clock,
        [
            (TapLevel(2), Screen.REASONS),
            (ToggleReason(214), Screen.REASONS),
            (ToggleReason(207), Screen.REASONS),
            (Submit(), Screen.THANKS),
        ],
    )
    rating = next(outbox.records(kind="rating"))
    assert rating["case_no"] == "C1"
    assert rating["matter_code"] == "11450102MB1234567X4000112"
    assert (rating["window"], rating["clerk_no"], rating["channel"]) == ("A01", "1001", 4)
    assert rating["level"] == 2 and rating["reasons"] == [207, 214]
    assert rating["reasons_version"] == "national-2019-v1"
    assert rating["prompted_at"] == "2026-11-27T09:00:00.000+00:00"
    assert rating["occurred_at"] == "2026-11-27T09:00:07.000+00:00"
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]
    assert outbox.verify_chain() is None


def test_timeout_is_recorded_not_dropped(flow, clock, outbox):
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (60, Screen.IDLE)])
    assert flow.state.message == "未评价，已超时"
    (timeout,) = outbox.records(kind="timeout")
    assert timeout["case_no"] == "C1" and timeout["detail"] == {"stage": "prompt"}


@pytest.mark.parametrize(
    "setup, trigger, code",
    [
        ([], Trigger("C1"), "signed_out"),
        (SIGNED_IN, Trigger("C1", "NOT-A-MATTER"), "unknown_matter"),
        (SIGNED_IN, Trigger("C1", "11450102MB5555555Z2000301"), "unknown_matter"),  # other window
        (SIGNED_IN, Trigger("X" * 65), "bad_case"),
        (SIGNED_IN, Trigger("案件 1"), "bad_case"),
        (SIGNED_IN + [(Trigger("C1"), Screen.PROMPT)], Trigger("C2"), "busy"),
    ],
)
def test_refused_triggers(flow, clock, setup, trigger, code):
    run(flow, clock, setup)
    before = flow.screen
    with pytest.raises(TriggerRefused) as refused:
        flow.handle(trigger)
    assert refused.value.code == code and str(refused.value)
    assert flow.screen is before


def test_case_prompted_once_and_prompts_spaced(flow, clock, outbox):
    run(
        flow,
        clock,
        SIGNED_IN
        + [
            (Trigger("C1"), Screen.PROMPT),
            (TapLevel(5), Screen.REASONS),
            (Submit(), Screen.THANKS),
            (4, Screen.IDLE),
        ],
    )
    with pytest.raises(TriggerRefused, match="C1 已评价") as dup:
        flow.handle(Trigger("C1"))
    assert dup.value.code == "duplicate"
    with pytest.raises(TriggerRefused, match="间隔过短") as soon:
        flow.handle(Trigger("C2"))
    assert soon.value.code == "too_soon"
    assert [r["case_no"] for r in outbox.records(kind="prompt_refused")] == ["C2"]
    clock.advance(16)
    run(flow, clock, [(Trigger("C2"), Screen.PROMPT)])


def test_sign_in_locks_after_repeated_failures(flow, clock):
    for _ in range(5):
        flow.handle(SignIn("1001", "0000"))
    flow.handle(SignIn("1001", "1111"))
    assert flow.screen is Screen.SIGNED_OUT and "5 分钟" in flow.state.message
    clock.advance(301)
    run(flow, clock, SIGNED_IN)


def test_state_never_tells_the_clerk_the_level_after_rating(flow, clock):
    seen = []
    flow.listeners.append(seen.append)
    run(
        flow,
        clock,
        SIGNED_IN
        + [
            (Trigger("C1"), Screen.PROMPT),
            (TapLevel(1), Screen.REASONS),
            (ToggleReason(115), Screen.REASONS),
            (Submit(), Screen.THANKS),
        ],
    )
    assert seen[-1].level is None and seen[-1].reasons == ()


@pytest.mark.parametrize("default", [False, True])
def test_large_text_chosen_by_one_citizen_is_not_left_on_for_the_next(hall_config, outbox, clock, default):
    from kiosk.flow import ToggleLargeText

    flow = example_flow(hall_config, outbox, clock, large_text_default=default)
    assert flow.state.large_text is default
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (ToggleLargeText(), Screen.PROMPT)])
    assert flow.state.large_text is not default
    run(flow, clock, [(TapLevel(5), Screen.REASONS), (Submit(), Screen.THANKS), (4, Screen.IDLE)])
    assert flow.state.large_text is default
    clock.advance(20)
    run(flow, clock, [(Trigger("C2"), Screen.PROMPT), (ToggleLargeText(), Screen.PROMPT), (60, Screen.IDLE)])
    assert flow.state.large_text is default
