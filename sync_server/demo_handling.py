"""Sample handling of the demo hall's 差评工单 (``hcp server demo-data``): each record is moved through the real
workflow (``take_step``: state machine, roles, departments, audit log, exclusion) by named sample actors, at office
hours on working days after its rating arrived, so the 差评处理 figures of the dashboard and the monthly report mean
something. Deterministic from the seed.

Records older than ``SETTLED_AGE`` working days are mostly settled: 属实 → 整改 → 回访 → 办结 (a few fixed late),
some 不属实 → 解释说明 → 回访 → 办结, exactly one appeal in the order of 篇10 (核实：不属实, the department's 书面报告
of a 误操作 or 恶意差评, 复核属实 by a hall administrator: 不予采纳), the rest stopped at an open stage. The 回访 is the
hall's (the sample 回访员 or administrator), with the citizen's answer: mostly 满意 or 基本满意, some 未能联系, and
now and then 不满意, which sends the record back to 整改 once before its second 回访.
Younger records follow the same courses cut off at the present, so the newest stay 待核实.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from haochaping.config import DeadlineRules, HallConfig
from sync_server.configs import current_rules
from sync_server.console.accounts import ADMIN, REVIEWER, REVISITOR
from sync_server.db import Store
from sync_server.storage.handling import cases_in_state, counts_by_state
from sync_server.storage.rollups import CHINA
from sync_server.workdays import WorkdayCalendar
from sync_server.workflow.cases import StepForm, take_step
from sync_server.workflow.deadlines import calendar_of
from sync_server.workflow.machine import Actor, State, Step

SAMPLE_ADMIN = Actor("示例-管理员", ADMIN)
SAMPLE_APPEAL_JUDGE = Actor("示例-管理员2", ADMIN)  # four eyes: a report is reviewed (复核) by another person
SAMPLE_REVISITOR = Actor("示例-回访员", REVISITOR)  # the hall's 回访, never the rated department
REVISIT_ANSWERS = {"satisfied": 60, "basically": 22, "unreached": 8, "unsatisfied": 10}  # weights of the answers
SETTLED_AGE = 5  # working days after which a record is usually settled
OLDER_SHARES = {"unfounded": 0.10, "late": 0.08, "overdue": 0.04, "stalled": 0.10, "reopened": 0.04}  # of the older
AT_LEAST_ONE = ("unfounded", "late", "reopened")  # the demo always shows a 不属实 record, a late fix, a 不满意 回访
YOUNG_WEIGHTS = {"rectified": 90, "unfounded": 10}
COMPLEX_SHARE = 0.15  # 复杂问题: 15 working days to fix
STALLED_AFTER = {0: 1, 1: 1, 2: 3, 3: 3}  # how many steps an unsettled older record got through (weights)

FINDINGS = (
    "已电话联系群众，群众反映窗口人员解释政策不够耐心，经调阅窗口录像，情况属实。",
    "已联系群众核实，群众反映等候时间较长且未被告知需补充的材料，情况属实。",
    "经调阅录像并询问当班人员，群众所反映的一次性告知不到位问题属实。",
    "已与群众电话沟通，群众反映办理过程中被要求重复提交材料，经核查情况属实。",
)
UNFOUNDED_FINDINGS = (
    "经调阅窗口录像并联系群众，该办件因材料不符合法定要求依法不予受理，窗口已出具一次性告知书，工作人员服务规范，"
    "差评所反映问题不属实。",
    "已联系群众核实，群众不满主要针对办理条件的政策规定本身，窗口工作人员按规定办理，不存在服务问题。",
    "经核查办件记录，该事项在法定时限内办结，群众所反映的“办理超时”不属实。",
)
FIXES = (
    "已对当班工作人员进行批评教育，组织窗口开展文明服务用语培训，并在窗口张贴办事指南。",
    "已补充完善该事项的材料清单和一次性告知单，同步更新网上办事指南。",
    "已调整窗口高峰时段人员安排，增设咨询引导岗，减少群众等候时间。",
    "已为群众补办相关手续，并在科室例会上通报，要求全体人员落实首问负责和一次性告知制度。",
)
VISITS = {
    "satisfied": ("电话回访群众，群众对整改情况表示满意。", "电话回访，群众表示问题已解决，认可整改措施。"),
    "basically": ("回访群众，群众表示基本满意，希望进一步缩短等候时间。", "短信回访，群众回复基本满意。"),
    "unsatisfied": ("电话回访，群众认为整改未解决实际问题，仍不满意。",),
    "unreached": ("工作日两次拨打群众电话均无人接听，短信未获回复，未能联系。",),
}
EXPLANATIONS = (
    "已电话向群众解释相关政策规定和不予受理的依据，并告知补齐材料后可再次申请，群众表示理解。",
    "已向群众说明该事项的法定办理时限及进度查询方式，群众表示理解。",
)
CLOSING_NOTES = ("", "", "整改到位，群众满意，同意办结。", "处理规范，予以办结。")
EXPLAINED_NOTES = ("", "解释说明到位，予以办结。")
APPEALS = {  # category: (核实 finding, 书面报告, 复核意见)
    "mistake": (
        "经调阅窗口录像并电话联系群众，群众办结后在评价器上误点“非常不满意”，窗口服务无问题，差评不属实。",
        "经核实属误操作：窗口录像显示群众办结后误点“非常不满意”，离开时已向工作人员表示满意；电话联系群众，群众确认"
        "系误操作（录像截图、通话记录存档）。请予复核，对该评价不予采纳。",
        "经复核窗口录像和电话录音，群众确认系误操作，复核属实，该评价不予采纳，报省好差评系统申诉更正。",
    ),
    "malicious": (
        "经调阅录像并询问现场引导人员，工作人员全程按规定解释，态度规范，差评所反映问题不属实。",
        "经核实属恶意差评：该群众因不符合办理条件未能办理，评价前曾声称“办不成就给差评”，有窗口录像和现场引导人员"
        "证实；工作人员全程按规定解释，态度规范。请予复核，对该评价不予采纳。",
        "经复核录像，工作人员服务规范，该差评系恶意差评，复核属实，该评价不予采纳，报省好差评系统申诉更正。",
    ),
}


def sample_reviewer(department: str) -> Actor:
    """The sample 部门审核员 of one department (reviewers act only on their own department's records)."""
    return Actor(f"示例-审核员-{department}", REVIEWER, department)


@dataclass(frozen=True)
class Move:
    """One step of a sample course, taken ``after`` working days after the step before it (or the rating's arrival)."""

    step: Step
    actor: Actor
    after: int
    form: StepForm = StepForm()


@dataclass(frozen=True, order=True)
class Planned:
    at: datetime
    case_id: int
    move: Move = field(compare=False)


@dataclass
class HandlingCounts:
    """The records' states once the sample handling is done, for the summary line."""

    closed: int = 0
    open: int = 0
    upheld: int = 0


class SampleHandling:
    """Chooses each record's course and the moments of its steps, from the deadlines of the rules in force."""

    def __init__(
        self, config: HallConfig, calendar: WorkdayCalendar, rules: DeadlineRules, seed: int, hours: tuple[time, time]
    ):
        self.config, self.calendar, self.rules, self.hours = config, calendar, rules, hours
        self.rng = random.Random(f"handling-{seed}")

    def reviewer_of(self, case) -> Actor:
        return sample_reviewer(self.config.hall.window(case.window).department if case.window else case.department)

    def pick(self, texts: tuple[str, ...]) -> str:
        return self.rng.choice(texts)

    def rectified(self, reviewer: Actor, late: bool = False) -> list[Move]:
        """属实 → 整改 → 回访 → 办结; contact and revisit within their deadlines, the fix too unless ``late``."""
        kind = "complex" if self.rng.random() < COMPLEX_SHARE else "simple"
        days = self.rules.complex_fix_days if kind == "complex" else self.rules.simple_fix_days
        fix = days + self.rng.randint(1, 3) if late else self.early(days - 1)
        return [
            Move(Step.VERIFY_TRUE, reviewer, self.contact(), StepForm(self.pick(FINDINGS), fix_kind=kind)),
            Move(Step.RECTIFY, reviewer, fix, StepForm(self.pick(FIXES))),
            *self.revisits(reviewer, again=Step.RECTIFY, what=FIXES),
            Move(Step.CLOSE, SAMPLE_ADMIN, self.rng.randint(1, 2), StepForm(self.pick(CLOSING_NOTES))),
        ]

    def revisits(self, reviewer: Actor, again: Step, what: tuple[str, ...], after: int | None = None) -> list[Move]:
        """The hall's 回访 within its deadline; a 不满意 (while the rule allows reopening) sends the record back to
        ``again`` once, done by the department, and the second 回访 is answered 满意 or 基本满意."""
        answer = self.rng.choices(list(REVISIT_ANSWERS), weights=list(REVISIT_ANSWERS.values()))[0]
        moves = [self.revisit(answer, after)]
        if answer == "unsatisfied" and self.rules.revisit_reopen_max > 0:
            moves.append(Move(again, reviewer, after or self.soon(3), StepForm(self.pick(what))))
            moves.append(self.revisit(self.rng.choice(("satisfied", "basically")), after))
        return moves

    def revisit(self, answer: str, after: int | None = None) -> Move:
        by = self.rng.choice((SAMPLE_REVISITOR, SAMPLE_REVISITOR, SAMPLE_ADMIN))
        method = "unreached" if answer == "unreached" else self.rng.choice(("phone", "phone", "sms"))
        form = StepForm(self.pick(VISITS[answer]), method=method, answer="" if answer == "unreached" else answer)
        return Move(Step.REVISIT, by, after or self.soon(self.rules.revisit_days), form)

    def reopened(self, reviewer: Actor) -> list[Move]:
        """属实 → 整改 → 回访 不满意 → 整改 again → 回访 → 办结, briskly (one working day between steps)."""
        if self.rules.revisit_reopen_max == 0:
            return self.rectified(reviewer)
        return [
            Move(Step.VERIFY_TRUE, reviewer, 1, StepForm(self.pick(FINDINGS), fix_kind="simple")),
            Move(Step.RECTIFY, reviewer, 1, StepForm(self.pick(FIXES))),
            self.revisit("unsatisfied", 1),
            Move(Step.RECTIFY, reviewer, 1, StepForm(self.pick(FIXES))),
            self.revisit(self.rng.choice(("satisfied", "basically")), 1),
            Move(Step.CLOSE, SAMPLE_ADMIN, 1, StepForm(self.pick(CLOSING_NOTES))),
        ]

    def unfounded(self, reviewer: Actor) -> list[Move]:
        """不属实 → 解释说明 → 回访 → 办结, quickly: an older one is always closed."""
        return [
            Move(Step.VERIFY_FALSE, reviewer, self.contact(), StepForm(self.pick(UNFOUNDED_FINDINGS))),
            Move(Step.EXPLAIN, reviewer, self.soon(2), StepForm(self.pick(EXPLANATIONS))),
            *self.revisits(reviewer, again=Step.EXPLAIN, what=EXPLANATIONS, after=1),
            Move(Step.CLOSE, SAMPLE_ADMIN, 1, StepForm(self.pick(EXPLAINED_NOTES))),
        ]

    def late(self, reviewer: Actor) -> list[Move]:
        """Handled to the end, but rectified after the deadline."""
        return self.rectified(reviewer, late=True)

    def overdue(self, reviewer: Actor) -> list[Move]:
        """属实, and the fix still not done: a red card once its deadline has passed."""
        return self.rectified(reviewer, late=True)[:1]

    def stalled(self, reviewer: Actor) -> list[Move]:
        """A record that got only part of the way (待核实, 整改中, 已整改 or 已回访 today)."""
        done = self.rng.choices(list(STALLED_AFTER), weights=list(STALLED_AFTER.values()))[0]
        return self.rectified(reviewer)[:done]

    def appealed(self, reviewer: Actor) -> list[Move]:
        """篇10's order: the department verifies (不属实), reports the 误操作 or 恶意差评 in writing (no files in the
        demo), and another person, a hall administrator, confirms it on 复核: the rating is not adopted."""
        category = self.rng.choice(sorted(APPEALS))
        finding, report, note = APPEALS[category]
        return [
            Move(Step.VERIFY_FALSE, reviewer, self.contact(), StepForm(finding)),
            Move(Step.APPEAL, reviewer, 1, StepForm(report, category=category)),
            Move(Step.UPHOLD, SAMPLE_APPEAL_JUDGE, self.rng.randint(1, 2), StepForm(note)),
        ]

    def contact(self) -> int:
        return self.rng.randint(1, self.rules.contact_days)

    def soon(self, days: int) -> int:
        return min(days, self.rng.choice((1, 1, 2, 3)))

    def early(self, days: int) -> int:
        """1..days working days, most often early in the period (the sooner of two tries)."""
        return min(self.rng.randint(1, max(1, days)), self.rng.randint(1, max(1, days)))

    def young(self, reviewer: Actor, age: int) -> list[Move]:
        """A record still within its first deadlines: the newest wait for their contact, the others are under way."""
        if age < self.rules.contact_days:
            return []
        kind = self.rng.choices(list(YOUNG_WEIGHTS), weights=list(YOUNG_WEIGHTS.values()))[0]
        return getattr(self, kind)(reviewer)

    def allot(self, older: list) -> dict[int, str]:
        """The courses of the older records in seeded order: one appeal, the shares of OLDER_SHARES, the rest handled
        on time."""
        ids = [r.id for r in older]
        self.rng.shuffle(ids)
        counts = {k: round(share * len(ids)) for k, share in OLDER_SHARES.items()}
        counts |= {k: max(1, counts[k]) for k in AT_LEAST_ONE}
        kinds = ["appealed"] + [kind for kind, n in counts.items() for _ in range(n)]
        return dict(zip(ids, kinds + ["rectified"] * (len(ids) - len(kinds)), strict=False))

    def moment(self, day: date) -> datetime:
        """A random second of office hours on ``day`` (China time, ending a quarter of an hour early), as UTC."""
        opening, closing = (datetime.combine(day, t, tzinfo=CHINA) for t in self.hours)
        span = (closing - opening).total_seconds() - 15 * 60
        return (opening + timedelta(seconds=int(self.rng.uniform(0, span)))).astimezone(UTC)

    def schedule(self, case, moves: list[Move]) -> list[Planned]:
        """The moments of a course: each step ``after`` working days after the one before, first after the arrival."""
        day, planned = date.fromisoformat(case.arrival_day), []
        for move in moves:
            day = self.calendar.add_working_days(day, move.after).due
            planned.append(Planned(self.moment(day), case.id, move))
        return planned

    def plan(self, rows: list, today: date) -> list[Planned]:
        """Every record's course, in time order across records (the audit log reads as the days went by)."""
        age = {r.id: self.calendar.working_days_between(date.fromisoformat(r.arrival_day), today) for r in rows}
        courses = self.allot([r for r in rows if age[r.id] > SETTLED_AGE])
        steps = []
        for case in rows:
            kind = courses.get(case.id)
            if kind:
                moves = getattr(self, kind)(self.reviewer_of(case))
            else:
                moves = self.young(self.reviewer_of(case), age[case.id])
            steps += self.schedule(case, moves)
        return sorted(steps)


def handle_bad_cases(store: Store, config: HallConfig, now: datetime, seed: int, hours: tuple[time, time]) -> None:
    """Take the planned steps of every 待核实 record whose moment is before ``now``, through ``take_step``."""
    with store.read() as conn:
        rows = cases_in_state(conn, State.PENDING.value)
        rules, calendar = current_rules(conn).deadlines, calendar_of(conn)
    handling = SampleHandling(config, calendar, rules, seed, hours)
    today = now.astimezone(CHINA).date()
    for planned in handling.plan(sorted(rows, key=lambda r: r.id), today):
        if planned.at < now:  # a course's moments only grow: what is left of it lies in the future
            take_step(store, planned.case_id, planned.move.step, planned.move.actor, planned.at, planned.move.form)


def handling_counts(store: Store) -> HandlingCounts:
    with store.read() as conn:
        by_state = {State(state): n for state, n in counts_by_state(conn).items()}
    counts = HandlingCounts(closed=by_state.pop(State.CLOSED, 0), upheld=by_state.pop(State.UPHELD, 0))
    by_state.pop(State.WITHDRAWN, None)
    counts.open = sum(by_state.values())
    return counts
