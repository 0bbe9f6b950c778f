"""The 差评 handling state machine, pure: which step may be taken from which state, by which role.

    待核实 ──核实·属实──▶ 整改中 ──已整改──▶ 已整改 ──回访──▶ 已回访 ──办结──▶ 办结
      │  └──核实·不属实──▶ 不属实 ──解释说明──▶ 已解释说明 ──回访──▶ 已回访 ──办结──▶ 办结
      │     回访 by a hall role (大厅管理员 / 回访员, server setting ``workflow.revisit_by``), never the rated
      │     department; 不满意 sends the record back to 整改中 (属实) or 不属实 (解释说明 again) at most
      │     ``rules.deadlines.revisit_reopen_max`` times, then 不满意 is recorded and the record goes on to 已回访
      └──(不属实)──书面报告（恶意差评/误操作，部门）──▶ 书面报告待复核
                             ├──复核属实（大厅管理员，报告人以外）──▶ 不予采纳（评价排除，向省平台申诉更正）
                             └──复核不属实──▶ 不属实 again (history kept; 解释说明 → 回访 → 办结 as usual)
    a decided report ──督查复查·维持 / 督查复查·改判──▶ (改判 reverses: lifts or applies the exclusion)
    any open record ──(system) its rating no longer counts──▶ 已撤销 (an earlier rating of the case arrived later)
    a record waiting for a step ──申请延期 (department)──▶ 批准延期 / 不批准延期 (a hall administrator other than
    the asker); the state stays, an approved extension moves that step's deadline

The order is 篇10's (建立“好差评”复核、纠正制度): the department verifies (核实); a rating the verification finds to be
恶意差评 or 误操作 is reported in writing, with evidence, to the hall authority (区数据资源管理局); the hall reviews it
(复核); if it confirms, the rating is not adopted (不予采纳) and is appealed and corrected through the provincial
好差评 system (the upload sends the outcome). A verification of 属实 found the complaint true, so it cannot be
reported as malicious or a mistake; nor can a record that was not verified yet. 解释说明 is the other path from 不属实
(problems without legal basis) and stays separate. Appeals filed under the former rules (from 待核实 or 整改中) are
kept as they were (``appeals.filed_under = 'legacy'``) and can still be decided.

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
    State.APPEALING: "书面报告待复核",
    State.UPHELD: "不予采纳（复核属实，评价已排除）",
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
    Step.APPEAL: "书面报告（恶意差评/误操作）",
    Step.UPHOLD: "复核属实：不予采纳",
    Step.REJECT: "复核不属实：退回部门",
    Step.REVIEW_CONFIRM: "督查复查：维持复核结论",
    Step.REVIEW_REVERSE: "督查复查：改判",
    Step.EXTEND: "申请延期",
    Step.EXTEND_APPROVE: "批准延期",
    Step.EXTEND_REFUSE: "不批准延期",
}
LEGACY_STEP_LABELS = STEP_LABELS | {  # how a record whose appeal was filed under the former rules shows its history
    Step.APPEAL: "提出申诉（原规则）",
    Step.UPHOLD: "申诉成立",
    Step.REJECT: "申诉驳回",
}
LEGACY_STATE_LABELS = STATE_LABELS | {State.APPEALING: "申诉中（原规则）", State.UPHELD: "申诉成立（评价已排除）"}
EXTENSION_DECISIONS = (Step.EXTEND_APPROVE, Step.EXTEND_REFUSE)
WAITING = frozenset({State.PENDING, State.RECTIFYING, State.RECTIFIED, State.UNFOUNDED, State.EXPLAINED})  # clock runs
AWAITING_REVISIT = frozenset({State.RECTIFIED, State.EXPLAINED})  # handling done: the hall's 回访 is due

REPORT_CATEGORIES = {"malicious": "恶意差评", "mistake": "误操作"}  # 篇10: what a written report may say
LEGACY_CATEGORIES = {  # categories of appeals filed under the former rules: shown, never offered
    "not_this_window": "非本窗口业务（原规则）",
    "duplicate": "重复评价（原规则）",
    "unrelated": "与服务无关（原规则）",
}
APPEAL_CATEGORIES = REPORT_CATEGORIES | LEGACY_CATEGORIES  # every category a stored appeal may carry, for display
REPORT, LEGACY = "report", "legacy"  # appeals.filed_under: 篇10's written report after 核实, or the former rules

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
    Step.APPEAL: Rule(frozenset({State.UNFOUNDED}), DEPARTMENT, State.APPEALING),
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
        raise OwnAppeal("书面报告须由报告人以外的大厅管理员复核")
    if step in EXTENSION_DECISIONS and facts.extension_asked_by == actor.username:
        raise OwnAppeal("延期须由提出申请以外的大厅管理员批准")
    if facts.state == State.WITHDRAWN:
        raise StepRefused("工单已撤销：该评价已被同一办件更早的评价取代，不再计入统计，无需办理")
    if step == Step.APPEAL and facts.appeal is not None:
        raise StepRefused("每张工单只能书面报告一次（复核结论可由督查复查）")
    if step == Step.APPEAL and facts.state in APPEAL_TOO_EARLY | APPEAL_AFTER_TRUE:
        raise StepRefused(APPEAL_REFUSALS[facts.state in APPEAL_TOO_EARLY])
    if rule.sources is not None and facts.state not in rule.sources:
        raise StepRefused(f"工单当前为“{facts.state.label}”，不能“{step.label}”")
    if step == Step.EXTEND and facts.extension_asked_by is not None:
        raise StepRefused("已有一项延期申请待批准")
    if step in EXTENSION_DECISIONS and facts.extension_asked_by is None:
        raise StepRefused("没有待批准的延期申请")
    return _target(facts, step, rule)


APPEAL_TOO_EARLY = frozenset({State.PENDING})
APPEAL_AFTER_TRUE = frozenset({State.RECTIFYING, State.RECTIFIED})  # 已回访 may follow 解释说明 as well
APPEAL_REFUSALS = {
    True: "请先核实：经核实属恶意差评或误操作的（核实结论为不属实），才能书面报告大厅复核",
    False: "核实结论为属实，不能再以恶意差评或误操作书面报告；请按期整改、回访",
}


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
            raise StepRefused("只有大厅已复核、尚未督查复查的书面报告可以复查")
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
