"""The state machine as tables: every step from every state by every role, allowed or refused with the reason."""

from __future__ import annotations

import itertools

import pytest
from workflow_helpers import actor

from sync_server.workflow.errors import OutsideDepartment, OwnAppeal, RoleRefused, StepRefused
from sync_server.workflow.machine import AppealFacts, CaseFacts, State, Step, allowed_steps, decide

S, T = State, Step
DEPT = {"admin", "admin2", "sc_reviewer"}  # the record's department is SC
ADMINS = {"admin", "admin2"}
HALL = ADMINS | {"revisitor"}  # 回访: a hall role, never the rated department
# step -> (states it may start from, who may take it, the state it leads to) — for records without an appeal
# except in 书面报告待复核, where the report was filed by "admin" from 不属实 (篇10: after 核实).
EXPECTED = {
    T.VERIFY_TRUE: ({S.PENDING}, DEPT, S.RECTIFYING),
    T.VERIFY_FALSE: ({S.PENDING}, DEPT, S.UNFOUNDED),
    T.RECTIFY: ({S.RECTIFYING}, DEPT, S.RECTIFIED),
    T.REVISIT: ({S.RECTIFIED, S.EXPLAINED}, HALL, S.REVISITED),
    T.EXPLAIN: ({S.UNFOUNDED}, DEPT, S.EXPLAINED),
    T.CLOSE: ({S.REVISITED}, ADMINS, S.CLOSED),
    T.APPEAL: ({S.UNFOUNDED}, DEPT, S.APPEALING),
    T.UPHOLD: ({S.APPEALING}, {"admin2"}, S.UPHELD),
    T.REJECT: ({S.APPEALING}, {"admin2"}, S.UNFOUNDED),
    T.REVIEW_CONFIRM: (set(), {"supervisor"}, None),  # no decided appeal in these facts: never possible
    T.REVIEW_REVERSE: (set(), {"supervisor"}, None),
    T.EXTEND: ({S.PENDING, S.RECTIFYING, S.RECTIFIED, S.UNFOUNDED, S.EXPLAINED}, DEPT, None),  # None: the state stays
    T.EXTEND_APPROVE: (set(), ADMINS, None),  # no pending 延期 in these facts: never possible
    T.EXTEND_REFUSE: (set(), ADMINS, None),
}
ROLE_OF_STEP = {
    T.REVISIT: HALL,
    T.CLOSE: ADMINS,
    T.UPHOLD: ADMINS,
    T.REJECT: ADMINS,
    T.REVIEW_CONFIRM: {"supervisor"},
    T.REVIEW_REVERSE: {"supervisor"},
    T.EXTEND_APPROVE: ADMINS,
    T.EXTEND_REFUSE: ADMINS,
}
PEOPLE = ["admin", "admin2", "sc_reviewer", "rs_reviewer", "supervisor", "revisitor"]


def facts(state: State) -> CaseFacts:
    appeal = AppealFacts("pending", "admin", S.UNFOUNDED) if state == S.APPEALING else None
    if state == S.UPHELD:
        appeal = AppealFacts("upheld", "admin", S.UNFOUNDED, reviewed=True)
    return CaseFacts(state, "SC", appeal)


def expected_refusal(step: Step, state: State, who: str):
    """The refusal a user should see, in the order a person would ask: my role? my department? my own appeal?
    and only then: is the record in the right state?"""
    roles = ROLE_OF_STEP.get(step, DEPT | {"rs_reviewer"})
    if who not in roles:
        return RoleRefused
    if who == "rs_reviewer":
        return OutsideDepartment
    if step in (T.UPHOLD, T.REJECT) and who == "admin" and state == S.APPEALING:
        return OwnAppeal
    states, people, _ = EXPECTED[step]
    return None if state in states and who in people else StepRefused


@pytest.mark.parametrize(
    "step, state, who", list(itertools.product(Step, State, PEOPLE)), ids=lambda v: getattr(v, "value", v)
)
def test_every_step_from_every_state_by_every_role(step, state, who):
    refusal = expected_refusal(step, state, who)
    if refusal is None:
        assert decide(facts(state), step, actor(who)) == (EXPECTED[step][2] or state)
    else:
        with pytest.raises(refusal) as refused:
            decide(facts(state), step, actor(who))
        assert refused.value.message  # a sentence in Chinese, shown on the page
        assert refused.value.status in (403, 409)


def test_an_administrator_cannot_decide_the_appeal_they_filed():
    appealing = CaseFacts(S.APPEALING, "SC", AppealFacts("pending", "admin", S.UNFOUNDED))
    for step in (T.UPHOLD, T.REJECT):
        with pytest.raises(OwnAppeal, match="报告人以外的大厅管理员复核"):
            decide(appealing, step, actor("admin"))
        assert decide(appealing, step, actor("admin2")) in (S.UPHELD, S.UNFOUNDED)


def test_an_extension_is_decided_by_an_administrator_other_than_the_one_who_asked():
    asked = CaseFacts(S.RECTIFYING, "SC", extension_asked_by="admin")
    for step in (T.EXTEND_APPROVE, T.EXTEND_REFUSE):
        with pytest.raises(OwnAppeal, match="提出申请以外的大厅管理员"):
            decide(asked, step, actor("admin"))
        with pytest.raises(RoleRefused):
            decide(asked, step, actor("sc_reviewer"))  # not the department that asked
        assert decide(asked, step, actor("admin2")) == S.RECTIFYING
    with pytest.raises(StepRefused, match="待批准"):
        decide(asked, T.EXTEND, actor("sc_reviewer"))


def test_a_department_reviewer_cannot_act_outside_its_department():
    for step in (T.VERIFY_TRUE, T.VERIFY_FALSE, T.APPEAL):
        with pytest.raises(OutsideDepartment, match="本部门"):
            decide(CaseFacts(S.PENDING, "SC"), step, actor("rs_reviewer"))
    assert decide(CaseFacts(S.UNFOUNDED, "RS"), T.APPEAL, actor("rs_reviewer")) == S.APPEALING


def test_rejected_appeal_goes_back_to_where_it_was():
    for origin in (S.UNFOUNDED, S.PENDING, S.RECTIFYING):  # the last two: appeals filed under the former rules
        appealing = CaseFacts(S.APPEALING, "SC", AppealFacts("pending", "sc_reviewer", origin))
        assert decide(appealing, T.REJECT, actor("admin")) == origin


def test_one_appeal_per_record():
    after_rejection = CaseFacts(S.UNFOUNDED, "SC", AppealFacts("rejected", "sc_reviewer", S.UNFOUNDED))
    with pytest.raises(StepRefused, match="只能书面报告一次"):
        decide(after_rejection, T.APPEAL, actor("sc_reviewer"))


@pytest.mark.parametrize(
    "status, reviewed, state, step, outcome",
    [
        ("upheld", False, S.UPHELD, T.REVIEW_REVERSE, S.RECTIFYING),  # exclusion lifted, back where it was
        ("upheld", False, S.UPHELD, T.REVIEW_CONFIRM, S.UPHELD),
        ("rejected", False, S.RECTIFYING, T.REVIEW_REVERSE, S.UPHELD),  # exclusion applied
        ("rejected", False, S.REVISITED, T.REVIEW_REVERSE, S.UPHELD),  # even after the record moved on
        ("rejected", False, S.RECTIFYING, T.REVIEW_CONFIRM, S.RECTIFYING),
        ("upheld", True, S.UPHELD, T.REVIEW_REVERSE, StepRefused),  # reviewed once
        ("pending", False, S.APPEALING, T.REVIEW_REVERSE, StepRefused),  # not decided yet
        ("rejected", False, S.WITHDRAWN, T.REVIEW_REVERSE, StepRefused),  # its rating no longer counts
    ],
)
def test_supervisor_review_of_a_decided_appeal(status, reviewed, state, step, outcome):
    f = CaseFacts(state, "SC", AppealFacts(status, "sc_reviewer", S.RECTIFYING, reviewed))
    for who in ("admin", "admin2", "sc_reviewer", "rs_reviewer"):
        with pytest.raises(RoleRefused, match="督查"):
            decide(f, step, actor(who))
    if isinstance(outcome, State):
        assert decide(f, step, actor("supervisor")) == outcome
    else:
        with pytest.raises(outcome):
            decide(f, step, actor("supervisor"))


def test_allowed_steps_offer_only_what_the_viewer_may_do():
    pending = CaseFacts(S.PENDING, "SC")
    assert allowed_steps(pending, actor("sc_reviewer")) == [T.VERIFY_TRUE, T.VERIFY_FALSE, T.EXTEND]
    unfounded = CaseFacts(S.UNFOUNDED, "SC")
    assert allowed_steps(unfounded, actor("sc_reviewer")) == [T.EXPLAIN, T.APPEAL, T.EXTEND]
    assert allowed_steps(pending, actor("rs_reviewer")) == []
    assert allowed_steps(pending, actor("supervisor")) == []
    appealing = CaseFacts(S.APPEALING, "SC", AppealFacts("pending", "admin", S.UNFOUNDED))
    assert allowed_steps(appealing, actor("admin")) == []
    assert allowed_steps(appealing, actor("admin2")) == [T.UPHOLD, T.REJECT]


@pytest.mark.parametrize(
    "state, refusal",
    [
        (S.PENDING, "请先核实：经核实属恶意差评或误操作的（核实结论为不属实），才能书面报告大厅复核"),
        (S.RECTIFYING, "核实结论为属实，不能再以恶意差评或误操作书面报告；请按期整改、回访"),
        (S.RECTIFIED, "核实结论为属实，不能再以恶意差评或误操作书面报告；请按期整改、回访"),
        (S.REVISITED, "工单当前为“已回访”，不能“书面报告（恶意差评/误操作）”"),  # after 整改 or 解释说明
        (S.EXPLAINED, "工单当前为“已解释说明”，不能“书面报告（恶意差评/误操作）”"),
        (S.CLOSED, "工单当前为“办结”，不能“书面报告（恶意差评/误操作）”"),
    ],
)
def test_a_written_report_comes_only_after_verification_found_the_rating_unfounded(state, refusal):
    """篇10: 经核实属恶意差评或误操作的 — before 核实 there is no finding; after 属实 the complaint is true."""
    for who in ("sc_reviewer", "admin"):
        with pytest.raises(StepRefused) as refused:
            decide(CaseFacts(state, "SC"), T.APPEAL, actor(who))
        assert refused.value.message == refusal and refused.value.status == 409
        assert T.APPEAL not in allowed_steps(CaseFacts(state, "SC"), actor(who))
    assert decide(CaseFacts(S.UNFOUNDED, "SC"), T.APPEAL, actor("sc_reviewer")) == S.APPEALING
