"""The 差评 handling state machine, pure: which step may be taken from which state, by which role.

    待核实 ──核实·属实──▶ 整改中 ──已整改──▶ 已整改 ──回访──▶ 已回访 ──办结──▶ 办结
      │  └──核实·不属实──▶ 不属实 ──解释说明──▶ 已解释说明 ──回访──▶ 已回访 ──办结──▶ 办结
      │     回访 by a hall role (大厅管理员 / 回访员, server setting ``workflow.revisit_by``), never the rated
      │     department; 不满意 sends the record back to 整改中 (属实) or 不属实 (解释说明 again) at most
      │     ``rules.deadlines.revisit_reopen_max`` times, then 不满意 is recorded and the record goes on to 已回访
      └─(待核实或整改中)──申诉──▶ 申诉中 ──申诉成立──▶ 申诉成立（评价排除）
                                         └──申诉驳回──▶ back where it was (deadlines kept running)
    a decided appeal ──复核·维持 / 复核·改判──▶ (改判 reverses: lifts or applies the exclusion)
    any open record ──(system) its rating no longer counts──▶ 已撤销 (an earlier rating of the case arrived later)
    a record waiting for a step ──申请延期 (department)──▶ 批准延期 / 不批准延期 (a hall administrator other than
    the asker); the state stays, an approved extension moves that step's deadline

``decide(facts, step, actor)`` returns the next state or raises the precise refusal. Nothing here touches the
database or the clock; ``cases.py`` applies the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sync_server.console.accounts import ADMIN, REVIEWER, REVISITOR, ROLES, SUPERVISOR
from sync_server.workflow.errors import OutsideDepartment, OwnAppeal, RoleRefused, StepRefused


class State(StrEnum):
    PENDING = "pending"
    RECTIFYING = "rectifying"
    RECTIFIED = "rectified"
    REVISITED = "revisited"
    UNFOUNDED = "unfounded"
    EXPLAINED = "explained"
    CLOSED = "closed"
    APPEALING = "appealing"
    UPHELD = "upheld"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    State.PENDING: "待核实",
    State.RECTIFYING: "整改中",
    State.RECTIFIED: "已整改",
    State.REVISITED: "已回访",
    State.UNFOUNDED: "不属实（待解释说明）",
    State.EXPLAINED: "已解释说明",
    State.CLOSED: "办结",
    State.APPEALING: "申诉中",
    State.UPHELD: "申诉成立（评价已排除）",
    State.WITHDRAWN: "已撤销（评价已被取代）",
}

FINISHED = frozenset({State.CLOSED, State.UPHELD, State.WITHDRAWN})  # no deadline runs, no card
UNFINISHED = tuple(s.value for s in State if s not in FINISHED)  # for queries: the records someone still works on


class Step(StrEnum):
    VERIFY_TRUE = "verify_true"
    VERIFY_FALSE = "verify_false"
    RECTIFY = "rectify"
    REVISIT = "revisit"
    EXPLAIN = "explain"
    CLOSE = "close"
    APPEAL = "appeal"
    UPHOLD = "uphold"
    REJECT = "reject"
    REVIEW_CONFIRM = "review_confirm"
    REVIEW_REVERSE = "review_reverse"
    EXTEND = "extend"
    EXTEND_APPROVE = "extend_approve"
    EXTEND_REFUSE = "extend_refuse"

    @property
    def label(self) -> str:
        return STEP_LABELS[self]


STEP_LABELS = {
    Step.VERIFY_TRUE: "核实：属实",
    Step.VERIFY_FALSE: "核实：不属实",
    Step.RECTIFY: "整改完成",
    Step.REVISIT: "回访",
    Step.EXPLAIN: "解释说明",
    Step.CLOSE: "办结",
    Step.APPEAL: "提出申诉",
    Step.UPHOLD: "申诉成立",
    Step.REJECT: "申诉驳回",
    Step.REVIEW_CONFIRM: "复核：维持原决定",
    Step.REVIEW_REVERSE: "复核：改判",
    Step.EXTEND: "申请延期",
    Step.EXTEND_APPROVE: "批准延期",
    Step.EXTEND_REFUSE: "不批准延期",
}
EXTENSION_DECISIONS = (Step.EXTEND_APPROVE, Step.EXTEND_REFUSE)
WAITING = frozenset({State.PENDING, State.RECTIFYING, State.RECTIFIED, State.UNFOUNDED, State.EXPLAINED})  # clock runs
AWAITING_REVISIT = frozenset({State.RECTIFIED, State.EXPLAINED})  # handling done: the hall's 回访 is due

APPEAL_CATEGORIES = {
    "malicious": "恶意差评",
    "mistake": "误操作",
    "not_this_window": "非本窗口业务",
    "duplicate": "重复评价",
    "unrelated": "与服务无关",
}

PENDING_APPEAL, UPHELD_APPEAL, REJECTED_APPEAL = "pending", "upheld", "rejected"
DEPARTMENT = (ADMIN, REVIEWER)  # the department's own reviewer, or a hall administrator
HALL_REVISIT = (ADMIN, REVISITOR)  # who may do 回访 unless the server setting narrows it (never the department)

# 回访: how the citizen was reached, and what they answered (no answer when 未能联系)
REVISIT_METHODS = {"phone": "电话", "sms": "短信", "unreached": "未能联系"}
REVISIT_ANSWERS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State] | None  # None: any state (the appeal's status decides)
    roles: tuple[str, ...]
    target: State | None  # None: computed from the appeal


RULES: dict[Step, Rule] = {
    Step.VERIFY_TRUE: Rule(frozenset({State.PENDING}), DEPARTMENT, State.RECTIFYING),
    Step.VERIFY_FALSE: Rule(frozenset({State.PENDING}), DEPARTMENT, State.UNFOUNDED),
    Step.RECTIFY: Rule(frozenset({State.RECTIFYING}), DEPARTMENT, State.RECTIFIED),
    Step.REVISIT: Rule(AWAITING_REVISIT, HALL_REVISIT, State.REVISITED),  # roles: CaseFacts.revisit_roles
    Step.EXPLAIN: Rule(frozenset({State.UNFOUNDED}), DEPARTMENT, State.EXPLAINED),
    Step.CLOSE: Rule(frozenset({State.REVISITED}), (ADMIN,), State.CLOSED),
    Step.APPEAL: Rule(frozenset({State.PENDING, State.RECTIFYING}), DEPARTMENT, State.APPEALING),
    Step.UPHOLD: Rule(frozenset({State.APPEALING}), (ADMIN,), State.UPHELD),
    Step.REJECT: Rule(frozenset({State.APPEALING}), (ADMIN,), None),
    Step.REVIEW_CONFIRM: Rule(None, (SUPERVISOR,), None),
    Step.REVIEW_REVERSE: Rule(None, (SUPERVISOR,), None),
    Step.EXTEND: Rule(WAITING, DEPARTMENT, None),
    Step.EXTEND_APPROVE: Rule(WAITING, (ADMIN,), None),
    Step.EXTEND_REFUSE: Rule(WAITING, (ADMIN,), None),
}


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    department: str | None = None


@dataclass(frozen=True)
class AppealFacts:
    status: str  # pending | upheld | rejected
    filed_by: str
    return_state: State
    reviewed: bool = False


@dataclass(frozen=True)
class CaseFacts:
    state: State
    department: str | None
    appeal: AppealFacts | None = None
    extension_asked_by: str | None = None  # who asked for the pending 延期, if one is pending
    revisit_roles: tuple[str, ...] = HALL_REVISIT  # the server setting ``workflow.revisit_by``


def may_revisit(actor: Actor, roles: tuple[str, ...] = HALL_REVISIT) -> bool:
    """Who may do 回访 on a 差评工单: a hall role among ``roles`` (``WorkflowSettings.revisit_roles``), never a
    department reviewer (the rated department does not survey its own citizens). Whether the record waits for 回访
    now is ``state in AWAITING_REVISIT``."""
    return actor.role in roles and actor.role != REVIEWER


def revisit_outcome(fix_kind: str | None, answer: str, reopened: int, reopen_max: int) -> State:
    """Where a 回访 takes the record: 不满意 within the province's limit reopens 整改 (属实) or 解释说明 (不属实);
    anything else (满意, 基本满意, 未能联系, 不满意 after the limit) goes on to 已回访."""
    if answer == "unsatisfied" and reopened < reopen_max:
        return State.RECTIFYING if fix_kind else State.UNFOUNDED
    return State.REVISITED


def decide(facts: CaseFacts, step: Step, actor: Actor) -> State:
    """The state after ``actor`` takes ``step``; raises RoleRefused, OutsideDepartment, OwnAppeal or StepRefused."""
    rule = RULES[step]
    if step == Step.REVISIT and not may_revisit(actor, facts.revisit_roles):
        who = "或".join(ROLES[r] for r in facts.revisit_roles)
        if actor.role == REVIEWER:
            raise RoleRefused(f"回访须由{who}办理：被评价部门不能回访本部门的差评")
        raise RoleRefused(f"“回访”须由{who}办理")
    if step != Step.REVISIT and actor.role not in rule.roles:
        raise RoleRefused(f"“{step.label}”须由{_role_names(rule.roles)}办理")
    if actor.role == REVIEWER and actor.department != facts.department:
        raise OutsideDepartment("部门审核员只能办理本部门的差评工单")
    if step in (Step.UPHOLD, Step.REJECT) and _own_pending_appeal(facts, actor):
        raise OwnAppeal("申诉须由提出人以外的大厅管理员审核")
    if step in EXTENSION_DECISIONS and facts.extension_asked_by == actor.username:
        raise OwnAppeal("延期须由提出申请以外的大厅管理员批准")
    if facts.state == State.WITHDRAWN:
        raise StepRefused("工单已撤销：该评价已被同一办件更早的评价取代，不再计入统计，无需办理")
    if rule.sources is not None and facts.state not in rule.sources:
        raise StepRefused(f"工单当前为“{facts.state.label}”，不能“{step.label}”")
    if step == Step.APPEAL and facts.appeal is not None:
        raise StepRefused("每张工单只能申诉一次（对审核结果可由督查复核）")
    if step == Step.EXTEND and facts.extension_asked_by is not None:
        raise StepRefused("已有一项延期申请待批准")
    if step in EXTENSION_DECISIONS and facts.extension_asked_by is None:
        raise StepRefused("没有待批准的延期申请")
    return _target(facts, step, rule)


def _own_pending_appeal(facts: CaseFacts, actor: Actor) -> bool:
    appeal = facts.appeal
    return appeal is not None and appeal.status == PENDING_APPEAL and appeal.filed_by == actor.username


def _target(facts: CaseFacts, step: Step, rule: Rule) -> State:
    appeal = facts.appeal
    if step in (Step.EXTEND, *EXTENSION_DECISIONS):
        return facts.state
    if step == Step.REJECT:
        return appeal.return_state
    if step in (Step.REVIEW_CONFIRM, Step.REVIEW_REVERSE):
        if appeal is None or appeal.status == PENDING_APPEAL or appeal.reviewed:
            raise StepRefused("只有已审核、尚未复核的申诉可以复核")
        if step == Step.REVIEW_CONFIRM:
            return facts.state
        return appeal.return_state if appeal.status == UPHELD_APPEAL else State.UPHELD
    return rule.target


def allowed_steps(facts: CaseFacts, actor: Actor) -> list[Step]:
    """The steps this actor may take now (for the page's forms)."""
    allowed = []
    for step in Step:
        try:
            decide(facts, step, actor)
        except (RoleRefused, OutsideDepartment, OwnAppeal, StepRefused):
            continue
        allowed.append(step)
    return allowed


def _role_names(roles: tuple[str, ...]) -> str:
    return "或".join(("本部门审核员" if r == REVIEWER else ROLES[r]) for r in roles)
