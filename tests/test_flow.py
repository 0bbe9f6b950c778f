"""The screen flow, driven by tables of events with an injected clock; the outbox is a real file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from testkit import example_flow

from kiosk.errors import TriggerRefused
from kiosk.flow import (
    AdminAccess,
    AdminPin,
    Back,
    ContactConfirm,
    ContactKey,
    ContactSkip,
    Reselect,
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
                (Submit(), Screen.CONTACT),
                (ContactSkip(), Screen.THANKS),
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
            "bad rating without reason is thanked like any other when the countdown ends",
            [(Trigger("C1"), Screen.PROMPT), (TapLevel(2), Screen.REASONS), (60, Screen.THANKS)],
        ),
        (
            "返回重选 goes back to the five levels and the citizen can choose again",
            [
                (Trigger("C1"), Screen.PROMPT),
                (TapLevel(1), Screen.REASONS),
                (Reselect(), Screen.PROMPT),
                (TapLevel(5), Screen.REASONS),
                (Submit(), Screen.THANKS),
            ],
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
            (Submit(), Screen.CONTACT),
            (ContactSkip(), Screen.THANKS),
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
            (Submit(), Screen.CONTACT),
        ],
    )
    assert seen[-1].level is None and seen[-1].reasons == ()  # the contact screen knows the record, not the level
    run(flow, clock, [(ContactSkip(), Screen.THANKS)])
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


# ---------------------------------------------------------------- 误操作 and the bad tap never dropped


def test_reselect_keeps_the_countdown_and_records_the_withdrawn_level(flow, clock, outbox):
    """返回重选 does not restart the clock: tap at 10 s, back at 40 s, the new level still ends at 70 s."""
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (10, Screen.PROMPT), (TapLevel(1), Screen.REASONS)])
    run(flow, clock, [(30, Screen.REASONS), (Reselect(), Screen.PROMPT), (29, Screen.PROMPT)])
    assert flow.state.deadline == clock() + timedelta(seconds=1)  # 10 s + 60 s from the first tap
    run(flow, clock, [(TapLevel(4), Screen.REASONS), (ToggleReason(413), Screen.REASONS), (Submit(), Screen.THANKS)])
    (rating,) = outbox.records(kind="rating")
    assert rating["level"] == 4 and rating["reasons"] == [413]
    assert rating["detail"]["withdrawn_levels"] == [1]
    assert not list(outbox.records(kind="timeout"))


def test_reselect_then_walk_away_is_a_plain_timeout_that_names_the_withdrawn_level(flow, clock, outbox):
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (TapLevel(2), Screen.REASONS)])
    run(flow, clock, [(Reselect(), Screen.PROMPT), (59, Screen.PROMPT), (1, Screen.IDLE)])
    (timeout,) = outbox.records(kind="timeout")
    assert timeout["detail"] == {"stage": "prompt", "withdrawn_levels": [2]}
    assert flow.state.message == "未评价，已超时"


def test_reselect_is_only_on_the_reasons_screen(flow, clock):
    run(
        flow,
        clock,
        SIGNED_IN + [(Reselect(), Screen.IDLE), (Trigger("C1"), Screen.PROMPT), (Reselect(), Screen.PROMPT)],
    )


@pytest.mark.parametrize("level", [4, 5, 3])
def test_good_rating_left_on_the_reasons_screen_is_stored_at_the_time_of_the_tap(flow, clock, outbox, level):
    run(
        flow,
        clock,
        SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (12, Screen.PROMPT), (TapLevel(level), Screen.REASONS)],
    )
    run(flow, clock, [(59, Screen.REASONS), (1, Screen.THANKS)])
    (rating,) = outbox.records(kind="rating")
    assert rating["level"] == level
    assert rating["occurred_at"] == "2026-11-27T09:00:12.000+00:00"  # the tap, not 60 s later
    assert rating["detail"]["committed"] == "left_on_reasons"


def _with_rule(hall_config, **rules):
    return hall_config.model_copy(update={"rules": hall_config.rules.model_copy(update=rules)})


@pytest.mark.parametrize("level", [1, 2])
def test_bad_tap_without_reason_counts_as_a_bad_rating_by_default(hall_config, outbox, clock, level):
    assert hall_config.rules.bad_without_reason == "count"
    flow = example_flow(hall_config, outbox, clock)
    run(
        flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (5, Screen.PROMPT), (TapLevel(level), Screen.REASONS)]
    )
    run(flow, clock, [(60, Screen.THANKS), (4, Screen.IDLE)])
    (rating,) = outbox.records(kind="rating")
    assert (rating["level"], rating["reasons"]) == (level, [])
    assert rating["detail"]["bad_without_reason"] == "count"
    assert rating["occurred_at"] == "2026-11-27T09:00:05.000+00:00"
    assert not list(outbox.records(kind="timeout"))
    assert flow.state.message == ""  # nothing on the idle screen tells the clerk what was tapped


def test_bad_tap_without_reason_is_held_on_the_timeout_record_when_the_rule_says_hold(hall_config, outbox, clock):
    flow = example_flow(_with_rule(hall_config, bad_without_reason="hold"), outbox, clock)
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (3, Screen.PROMPT), (TapLevel(1), Screen.REASONS)])
    run(flow, clock, [(60, Screen.THANKS)])
    assert not list(outbox.records(kind="rating"))
    (timeout,) = outbox.records(kind="timeout")
    assert timeout["detail"] == {
        "stage": "reasons",
        "tapped_level": 1,
        "tapped_at": "2026-11-27T09:00:03.000+00:00",
        "bad_without_reason": "hold",
    }
    with pytest.raises(TriggerRefused, match="已发起过评价"):
        flow.handle(Trigger("C1"))


def test_bad_rule_is_validated(tmp_path):
    from haochaping.config import Rules

    with pytest.raises(ValueError):
        Rules(bad_without_reason="drop")


# ---------------------------------------------------------------- after a power cut or crash


def _cut_off(hall_config, outbox, clock, case_no="C1"):
    """A terminal that prompted a case and then lost power with the prompt on screen; a new one starts on its file."""
    flow = example_flow(hall_config, outbox, clock)
    run(flow, clock, SIGNED_IN + [(Trigger(case_no), Screen.PROMPT), (5, Screen.PROMPT)])
    clock.advance(120)  # the power comes back two minutes later
    return example_flow(hall_config, outbox, clock)


def test_a_prompt_left_on_screen_by_a_power_cut_gets_its_outcome_at_start(hall_config, outbox, clock):
    restarted = _cut_off(hall_config, outbox, clock)
    (prompt,) = outbox.records(kind="prompt")
    interrupted = restarted.recover_interrupted()
    assert interrupted["kind"] == "interrupted" and interrupted["case_no"] == "C1"
    assert interrupted["occurred_at"] == "2026-11-27T09:02:05.000+00:00"  # when it was noticed, not a made-up time
    assert interrupted["detail"]["prompt_id"] == prompt["id"] and interrupted["clerk_no"] == "1001"
    assert not list(outbox.records(kind="timeout"))  # distinct from 未评价，已超时
    assert restarted.recover_interrupted() is None  # once: the next start finds nothing unfinished
    assert outbox.verify_chain() is None


def test_nothing_is_recorded_at_start_when_every_prompt_ended(flow, clock, outbox):
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (60, Screen.IDLE)])
    assert flow.recover_interrupted() is None
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "timeout"]


def test_an_interrupted_case_may_be_prompted_once_more_within_the_rule_and_counts_as_the_same_case(
    hall_config, outbox, clock
):
    restarted = _cut_off(hall_config, outbox, clock)
    restarted.recover_interrupted()
    clock.advance(29 * 60)
    run(restarted, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (TapLevel(5), Screen.REASONS)])
    run(restarted, clock, [(Submit(), Screen.THANKS), (4, Screen.IDLE)])
    prompts = list(outbox.records(kind="prompt"))
    assert [p["case_no"] for p in prompts] == ["C1", "C1"] and prompts[1]["detail"]["after_interruption"] is True
    assert [r["case_no"] for r in outbox.records(kind="rating")] == ["C1"]
    clock.advance(30)
    with pytest.raises(TriggerRefused, match="已评价"):
        restarted.handle(Trigger("C1"))


def test_the_second_prompt_after_an_interruption_is_the_last(hall_config, outbox, clock):
    restarted = _cut_off(hall_config, outbox, clock)
    restarted.recover_interrupted()
    run(restarted, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (60, Screen.IDLE)])
    clock.advance(30)
    with pytest.raises(TriggerRefused, match="已发起过评价"):
        restarted.handle(Trigger("C1"))


@pytest.mark.parametrize("minutes, allowed", [(30, True), (31, False)])
def test_the_second_prompt_is_allowed_within_the_configured_minutes(hall_config, outbox, clock, minutes, allowed):
    restarted = _cut_off(hall_config, outbox, clock)
    restarted.recover_interrupted()
    run(restarted, clock, SIGNED_IN)
    clock.advance(minutes * 60)
    if allowed:
        run(restarted, clock, [(Trigger("C1"), Screen.PROMPT)])
    else:
        with pytest.raises(TriggerRefused, match="已发起过评价"):
            restarted.handle(Trigger("C1"))


def test_a_case_prompted_and_not_interrupted_is_still_refused(flow, clock):
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (60, Screen.IDLE), (30, Screen.IDLE)])
    with pytest.raises(TriggerRefused, match="已发起过评价"):
        flow.handle(Trigger("C1"))


def test_the_rule_of_zero_minutes_never_prompts_again(hall_config, outbox, clock):
    config = _with_rule(hall_config, interrupted_reprompt_min=0)
    run(example_flow(config, outbox, clock), clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT)])
    restarted = example_flow(config, outbox, clock)
    restarted.recover_interrupted()
    run(restarted, clock, SIGNED_IN + [(30, Screen.IDLE)])
    with pytest.raises(TriggerRefused, match="已发起过评价"):
        restarted.handle(Trigger("C1"))


# ---------------------------------------------------------------- notices that clear


def test_each_timeout_notice_clears_after_its_time_even_two_in_a_row(flow, clock):
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (60, Screen.IDLE)])
    assert flow.state.message == "未评价，已超时"
    run(flow, clock, [(5, Screen.IDLE)])
    assert flow.state.message == "未评价，已超时"
    run(flow, clock, [(1, Screen.IDLE)])
    assert flow.state.message == ""
    clock.advance(20)
    run(flow, clock, [(Trigger("C2"), Screen.PROMPT), (60, Screen.IDLE)])
    assert flow.state.message == "未评价，已超时"  # the same text again: shown again …
    run(flow, clock, [(6, Screen.IDLE)])
    assert flow.state.message == ""  # … and cleared again


# ---------------------------------------------------------------- kiosk and phone, one case


def test_a_phone_rating_of_the_case_on_screen_thanks_the_citizen_and_records_no_timeout(flow, clock, outbox):
    from kiosk.flow import RatedByPhone

    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (8, Screen.PROMPT)])
    run(flow, clock, [(RatedByPhone("OTHER"), Screen.PROMPT), (RatedByPhone("C1"), Screen.PROMPT)])
    assert flow.state.message == "已收到手机评价。如不是您本人所评，请直接点选"  # the levels stay a moment
    run(flow, clock, [(9, Screen.PROMPT), (RatedByPhone("C1"), Screen.PROMPT), (1, Screen.IDLE)])
    assert flow.state.message == "已收到您的手机评价，谢谢"
    run(flow, clock, [(60, Screen.IDLE)])
    assert flow.state.message == ""  # cleared after its time; no timeout fired
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "phone_rated"]
    clock.advance(30)
    with pytest.raises(TriggerRefused, match="已评价"):
        flow.handle(Trigger("C1"))
    assert flow.recover_interrupted() is None  # the prompt had its outcome


def test_a_citizen_who_did_not_rate_by_phone_can_still_tap_and_the_tap_counts(flow, clock, outbox):
    """Someone else (the clerk, say) scanned the QR and rated: the citizen at the kiosk is never out-voted."""
    from kiosk.flow import RatedByPhone

    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (3, Screen.PROMPT)])
    run(flow, clock, [(RatedByPhone("C1"), Screen.PROMPT), (6, Screen.PROMPT)])
    run(flow, clock, [(TapLevel(1), Screen.REASONS), (ToggleReason(115), Screen.REASONS), (Submit(), Screen.CONTACT)])
    run(flow, clock, [(ContactSkip(), Screen.THANKS)])
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]  # no phone_rated, no timeout
    rating = list(outbox.records(kind="rating"))[0]
    assert rating["level"] == 1 and rating["prompted_at"] is not None  # the server orders the phone rating after it


def test_a_phone_rating_heard_just_before_the_prompt_times_out_still_ends_it_as_rated_by_phone(flow, clock, outbox):
    from kiosk.flow import RatedByPhone

    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (55, Screen.PROMPT)])
    run(flow, clock, [(RatedByPhone("C1"), Screen.PROMPT), (5, Screen.IDLE)])  # the prompt's own 60 s end it
    assert flow.state.message == "已收到您的手机评价，谢谢"
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "phone_rated"]


def test_a_level_tapped_after_a_phone_rating_and_taken_back_times_out_as_usual(flow, clock, outbox):
    from kiosk.flow import RatedByPhone

    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (RatedByPhone("C1"), Screen.PROMPT)])
    run(flow, clock, [(TapLevel(2), Screen.REASONS), (Reselect(), Screen.PROMPT), (60, Screen.IDLE)])
    assert flow.state.message == "未评价，已超时"
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "timeout"]


def test_a_citizen_choosing_reasons_is_not_cut_short_by_a_phone_rating(flow, clock, outbox):
    from kiosk.flow import RatedByPhone

    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (TapLevel(1), Screen.REASONS)])
    run(flow, clock, [(RatedByPhone("C1"), Screen.REASONS), (ToggleReason(115), Screen.REASONS)])
    run(flow, clock, [(Submit(), Screen.CONTACT), (RatedByPhone("C1"), Screen.CONTACT), (ContactSkip(), Screen.THANKS)])
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]


# ---------------------------------------------------------------- a contact for 核实 and 回访, after a 差评

MOBILE = "13800138000"


def bad_rating_to_contact(flow, clock, case_no="C1", level=1, reason=115):
    run(
        flow,
        clock,
        [
            (Trigger(case_no), Screen.PROMPT),
            (TapLevel(level), Screen.REASONS),
            (ToggleReason(reason), Screen.REASONS),
            (Submit(), Screen.CONTACT),
        ],
    )


def type_digits(flow, digits: str) -> None:
    for digit in digits:
        flow.handle(ContactKey(digit))


def test_a_bad_rating_is_stored_before_the_contact_screen_and_the_number_after_it(flow, clock, outbox):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    (rating,) = outbox.records(kind="rating")  # committed first: whatever happens on the contact screen
    assert (rating["level"], rating["reasons"]) == (1, [115])
    assert flow.state.rating_id == rating["id"] and flow.state.level is None
    type_digits(flow, MOBILE)
    assert flow.state.contact == MOBILE and flow.state.message == ""
    clock.advance(9)
    run(flow, clock, [(ContactConfirm(), Screen.THANKS), (4, Screen.IDLE)])
    (contact,) = outbox.records(kind="contact")
    assert contact["case_no"] == "C1"
    salt = contact["detail"].pop("salt")
    assert contact["detail"] == {"mobile": MOBILE, "rating": rating["id"]}
    assert len(salt) == 32  # 128 random bits: the record's hash cannot be brute-forced back to the number
    assert (contact["window"], contact["clerk_no"], contact["level"], contact["reasons"]) == ("A01", "1001", None, [])
    assert contact["occurred_at"] == "2026-11-27T09:00:09.000+00:00"
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating", "contact"]
    assert outbox.verify_chain() is None
    assert flow.state.contact == "" and flow.state.rating_id is None  # nothing of it is left in the state


@pytest.mark.parametrize("level, reason", [(1, 115), (2, 214)])
def test_both_bad_levels_are_offered_the_contact_screen(flow, clock, outbox, level, reason):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock, level=level, reason=reason)
    type_digits(flow, "19912345678")
    run(flow, clock, [(ContactConfirm(), Screen.THANKS)])
    assert [c["detail"]["mobile"] for c in outbox.records(kind="contact")] == ["19912345678"]


@pytest.mark.parametrize("finish", [ContactSkip(), ContactConfirm()], ids=["跳过", "确定 with nothing typed"])
def test_the_number_may_be_left_out(flow, clock, outbox, finish):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    run(flow, clock, [(finish, Screen.THANKS), (4, Screen.IDLE)])
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]


def test_typing_then_skipping_keeps_no_number(flow, clock, outbox):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    type_digits(flow, MOBILE)
    run(flow, clock, [(ContactSkip(), Screen.THANKS)])
    assert not list(outbox.records(kind="contact")) and flow.state.contact == ""


@pytest.mark.parametrize(
    "typed, problem",
    [
        ("1380013800", "手机号应为 11 位，现在是 10 位\n请补全，或点“跳过”"),
        ("138", "手机号应为 11 位，现在是 3 位\n请补全，或点“跳过”"),
        ("12800138000", "手机号应以 13–19 开头，请核对\n也可以点“跳过”"),
        ("23800138000", "手机号应以 13–19 开头，请核对\n也可以点“跳过”"),
    ],
)
def test_a_bad_number_is_explained_on_the_screen_and_can_be_corrected(flow, clock, outbox, typed, problem):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    type_digits(flow, typed)
    run(flow, clock, [(ContactConfirm(), Screen.CONTACT)])
    assert flow.state.message == problem
    assert not list(outbox.records(kind="contact"))
    for _ in typed:
        flow.handle(ContactKey("back"))
    assert flow.state.contact == "" and flow.state.message == ""  # 删除 clears the message too
    type_digits(flow, MOBILE)
    run(flow, clock, [(ContactConfirm(), Screen.THANKS)])
    assert [c["detail"]["mobile"] for c in outbox.records(kind="contact")] == [MOBILE]


def test_a_bad_number_can_be_skipped(flow, clock, outbox):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    type_digits(flow, "12345")
    run(flow, clock, [(ContactConfirm(), Screen.CONTACT), (ContactSkip(), Screen.THANKS)])
    assert not list(outbox.records(kind="contact"))


def test_the_keypad_takes_eleven_digits_and_nothing_else(flow, clock):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    type_digits(flow, MOBILE)
    flow.handle(ContactKey("9"))
    assert flow.state.contact == MOBILE and "11 位" in flow.state.message
    for key in ("x", "", "12", "٣", "+"):
        flow.handle(ContactKey(key))
    assert flow.state.contact == MOBILE
    flow.handle(ContactKey("back"))
    assert flow.state.contact == MOBILE[:-1]


def test_the_contact_screen_has_its_own_countdown_and_a_timeout_only_thanks(flow, clock, outbox):
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (TapLevel(1), Screen.REASONS)])
    run(flow, clock, [(50, Screen.REASONS), (ToggleReason(115), Screen.REASONS), (Submit(), Screen.CONTACT)])
    assert flow.state.deadline == clock() + timedelta(seconds=60)  # a fresh countdown (reasons_timeout_s)
    type_digits(flow, MOBILE)  # typed but never confirmed
    run(flow, clock, [(59, Screen.CONTACT), (1, Screen.THANKS), (4, Screen.IDLE)])
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]  # the rating is kept, no number
    assert not list(outbox.records(kind="timeout"))
    assert flow.state.message == ""


def test_no_contact_screen_when_the_province_does_not_offer_it(hall_config, outbox, clock):
    contact = hall_config.rules.contact.model_copy(update={"offer": False})
    flow = example_flow(_with_rule(hall_config, contact=contact), outbox, clock)
    run(
        flow,
        clock,
        SIGNED_IN
        + [
            (Trigger("C1"), Screen.PROMPT),
            (TapLevel(1), Screen.REASONS),
            (ToggleReason(115), Screen.REASONS),
            (Submit(), Screen.THANKS),
            (ContactKey("1"), Screen.THANKS),
            (ContactConfirm(), Screen.THANKS),
        ],
    )
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]


@pytest.mark.parametrize("level", [5, 4, 3])
def test_good_ratings_never_see_the_contact_screen(flow, clock, outbox, level):
    seen = []
    flow.listeners.append(lambda state: seen.append(state.screen))
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (TapLevel(level), Screen.REASONS)])
    run(flow, clock, [(Submit(), Screen.THANKS), (ContactKey("1"), Screen.THANKS), (4, Screen.IDLE)])
    assert Screen.CONTACT not in seen
    assert not list(outbox.records(kind="contact"))


def test_a_bad_rating_left_on_the_reasons_screen_is_not_offered_the_contact_screen(flow, clock, outbox):
    """The citizen walked away: nobody is there to type a number."""
    run(flow, clock, SIGNED_IN + [(Trigger("C1"), Screen.PROMPT), (TapLevel(2), Screen.REASONS)])
    run(flow, clock, [(ToggleReason(214), Screen.REASONS), (60, Screen.THANKS)])
    assert [r["kind"] for r in outbox.records()] == ["sign_in", "prompt", "rating"]


def test_the_window_is_busy_while_the_contact_screen_is_up(flow, clock):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    clock.advance(30)
    with pytest.raises(TriggerRefused) as busy:
        flow.handle(Trigger("C2"))
    assert busy.value.code == "busy" and flow.screen is Screen.CONTACT
    run(flow, clock, [(StaffHold(), Screen.CONTACT)])


def test_the_typed_number_never_appears_in_the_state_repr(flow, clock):
    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    type_digits(flow, MOBILE)
    assert MOBILE not in repr(flow.state) and "1380" not in repr(flow.state)


def test_a_full_disk_keeps_the_citizen_on_the_contact_screen_with_the_number(flow, clock, outbox):
    from kiosk.errors import OutboxFull

    run(flow, clock, SIGNED_IN)
    bad_rating_to_contact(flow, clock)
    type_digits(flow, MOBILE)
    real = flow.outbox

    class Full:
        def append(self, *_a, **_k):
            raise OutboxFull("存储空间已满")

        def __getattr__(self, name):
            return getattr(real, name)

    flow.outbox = Full()
    with pytest.raises(OutboxFull):
        flow.handle(ContactConfirm())
    assert flow.screen is Screen.CONTACT and flow.state.contact == MOBILE
    flow.outbox = real
    run(flow, clock, [(ContactConfirm(), Screen.THANKS)])
    assert len(list(outbox.records(kind="contact"))) == 1
