"""The assessment rule table (``config/assessment.toml``), declared once and validated like the other files.

Every event kind names its points (a default and the range a person may enter), whether it deducts or adds, and its
source: ``manual`` or one of the automatic sources the server proposes from. The defaults are the 篇4 细则 and the
篇8 考勤制度; a hall changes them in the file and raises ``version``, which every event keeps.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from haochaping.config import _Strict, read_toml, validate

DEDUCTION, BONUS = "deduction", "bonus"
AUTOMATIC_SOURCES = {
    "attendance_late": "考勤：迟到",
    "attendance_early": "考勤：早退",
    "attendance_absent": "考勤：旷工",
    "attendance_away": "考勤：离岗（长时间暂停服务）",
    "bad_rating_attitude": "差评属实：服务态度",
    "red_card": "差评工单亮红牌",
}
SOURCE_LABELS = {"manual": "人工登记", **AUTOMATIC_SOURCES}
Source = Literal[
    "manual",
    "attendance_late",
    "attendance_early",
    "attendance_absent",
    "attendance_away",
    "bad_rating_attitude",
    "red_card",
]


class EventKind(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="事件类别代码（小写字母、数字、下划线）")
    label: str = Field(min_length=1, max_length=64, description="事件类别名称，按考核细则")
    direction: Literal["deduction", "bonus"] = Field(description="deduction 扣分，bonus 加分")
    points: int = Field(ge=1, le=100, description="每次的分值（默认值）")
    min_points: int | None = Field(default=None, ge=1, le=100, description="登记时可填的最低分值；不填则等于 points")
    max_points: int | None = Field(
        default=None, ge=1, le=100, description="登记时可填的最高分值（如情节严重）；不填则等于 points"
    )
    source: Source = Field(default="manual", description="来源：manual 人工登记，或服务器据以提出建议的自动来源")

    @model_validator(mode="after")
    def _range_holds_points(self) -> EventKind:
        if not self.lowest <= self.points <= self.highest:
            raise ValueError(f"points: 应在 min_points {self.lowest} 与 max_points {self.highest} 之间")
        return self

    @property
    def lowest(self) -> int:
        return self.min_points if self.min_points is not None else self.points

    @property
    def highest(self) -> int:
        return self.max_points if self.max_points is not None else self.points

    @property
    def sign(self) -> int:
        return -1 if self.direction == DEDUCTION else 1


class Session(_Strict):
    start: time = Field(description="上班时间（北京时间，如 09:00）")
    end: time = Field(description="下班时间（北京时间，如 12:00）")

    @model_validator(mode="after")
    def _ordered(self) -> Session:
        if self.end <= self.start:
            raise ValueError("end: 下班时间应晚于上班时间")
        return self


def _default_sessions() -> list[Session]:
    return [Session(start=time(9), end=time(12)), Session(start=time(13), end=time(17))]


class AttendanceRules(_Strict):
    sessions: list[Session] = Field(
        default_factory=_default_sessions, min_length=1, max_length=4, description="办公时间：上午、下午各一段"
    )
    late_minutes: int = Field(default=15, ge=0, le=240, description="迟到或早退超过多少分钟，作迟到或早退处理")
    absent_minutes: int = Field(default=30, ge=1, le=480, description="迟到或早退超过多少分钟，作旷工处理")
    away_minutes: int = Field(default=30, ge=1, le=480, description="办公时间内暂停服务或签退超过多少分钟，作离岗处理")

    @model_validator(mode="after")
    def _consistent(self) -> AttendanceRules:
        if self.absent_minutes <= self.late_minutes:
            raise ValueError("absent_minutes: 应大于 late_minutes")
        for i in range(1, len(self.sessions)):
            if self.sessions[i].start < self.sessions[i - 1].end:
                raise ValueError(f"sessions[{i}].start: 各段办公时间应按先后排列且不重叠")
        return self


class Grades(_Strict):
    excellent: int = Field(default=95, ge=0, le=200, description="优秀等次的最低分")
    competent: int = Field(default=85, ge=0, le=200, description="称职等次的最低分")
    basic: int = Field(default=70, ge=0, le=200, description="基本称职等次的最低分；低于此为不称职")

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if not self.excellent > self.competent > self.basic:
            raise ValueError("competent: 应满足 excellent > competent > basic")
        return self


def _k(code, label, direction, points, source="manual", max_points=None) -> EventKind:
    return EventKind(code=code, label=label, direction=direction, points=points, source=source, max_points=max_points)


D, B = DEDUCTION, BONUS
DEFAULT_KINDS = [
    _k("badge", "未按规定佩证上岗", D, 1),
    _k("conduct", "上班时间嬉戏打闹、吃东西、串岗聊天、打瞌睡", D, 2),
    _k("software", "使用来历不明的软件、私装游戏、他人使用电脑", D, 2),
    _k("games", "工作时间玩电脑游戏", D, 5),
    _k("late", "无故迟到", D, 2, "attendance_late"),
    _k("early", "无故早退", D, 2, "attendance_early"),
    _k("away", "无故离岗", D, 2, "attendance_away"),
    _k("absent", "旷工（半天及以上）", D, 5, "attendance_absent"),
    _k("meeting_late", "参加中心会议及活动无故迟到、早退", D, 1),
    _k("leave_note", "请假未按规定提交请假条", D, 1),
    _k("overdue", "因业务不熟不能按期办理（每件次）", D, 5, "red_card"),
    _k("joint_approval", "不能按要求办理联合审批事项", D, 10),
    _k("shirking", "推诿当事人", D, 10),
    _k("attitude", "因工作态度引起投诉或与当事人争吵（情节严重 5 分）", D, 2, "bad_rating_attitude", 5),
    _k("discipline", "违反党纪、政纪被查处", D, 20),
    _k("illegal", "因违法行为被查处", D, 30),
    _k("thanks", "受到当事人书面感谢或表扬", B, 3),
    _k("suggestion", "合理化建议被采纳", B, 5),
    _k("honour_county", "受县级部门及媒体表扬", B, 2),
    _k("honour_prefecture", "受州（市）级部门及媒体表扬", B, 4),
    _k("honour_province", "受省级部门及媒体表扬", B, 6),
    _k("honour_national", "受国家级部门及媒体表扬", B, 8),
    _k("wronged", "因当事人过错受委屈且未与当事人争吵", B, 5),
]


class AssessmentRules(_Strict):
    """``config/assessment.toml``: the 考核细则 as data."""

    version: str = Field(min_length=1, max_length=64, description="考核规则表的版本，随每条考核事件一起保存")
    base_points: int = Field(default=100, ge=0, le=200, description="年度考核基础分")
    four_eyes_points: int = Field(
        default=5, ge=1, le=100, description="扣分达到多少分的事件须由两位不同的管理员先后确认"
    )
    attitude_reasons: list[int] = Field(
        default_factory=lambda: [214, 115], description="属于“服务态度”的差评测评内容代码（全国清单）"
    )
    grades: Grades = Field(default_factory=Grades, description="考核等次的分数线")
    attendance: AttendanceRules = Field(default_factory=AttendanceRules, description="考勤：办公时间与阈值")
    kinds: list[EventKind] = Field(
        default_factory=lambda: list(DEFAULT_KINDS), min_length=1, description="考核事件类别"
    )

    @model_validator(mode="after")
    def _kinds_are_consistent(self) -> AssessmentRules:
        seen: set[str] = set()
        sources: set[str] = set()
        for i, kind in enumerate(self.kinds):
            if kind.code in seen:
                raise ValueError(f"kinds[{i}].code: 重复的 {kind.code!r}")
            seen.add(kind.code)
            if kind.source != "manual":
                if kind.source in sources:
                    raise ValueError(f"kinds[{i}].source: 自动来源 {kind.source!r} 只能对应一个事件类别")
                sources.add(kind.source)
        for i, code in enumerate(self.attitude_reasons):
            if code // 100 not in (1, 2):
                raise ValueError(f"attitude_reasons[{i}]: {code} 不是差评（等级 1、2）的测评内容代码")
        return self

    def kind(self, code: str) -> EventKind | None:
        return next((k for k in self.kinds if k.code == code), None)

    def kind_for(self, source: str) -> EventKind | None:
        """The kind the server proposes for an automatic source (None: the hall does not use that source)."""
        return next((k for k in self.kinds if k.source == source), None)

    def grade(self, score: int) -> str:
        """优秀 / 称职 / 基本称职 / 不称职: each grade's floor counts as reached (95 is 优秀)."""
        g = self.grades
        if score >= g.excellent:
            return "优秀"
        if score >= g.competent:
            return "称职"
        if score >= g.basic:
            return "基本称职"
        return "不称职"


GRADE_NAMES = ("优秀", "称职", "基本称职", "不称职")
ASSESSMENT_FILE = "assessment.toml"


def load_assessment_rules(path: Path | str) -> AssessmentRules:
    """The rule table in ``path``; a bad file raises ConfigError naming the file and the key."""
    path = Path(path)
    return validate(AssessmentRules, read_toml(path), path)


def rules_in(config_dir: Path | str | None) -> AssessmentRules:
    """``<config_dir>/assessment.toml`` when it exists, else the built-in defaults (version ``builtin``)."""
    if config_dir is not None and (Path(config_dir) / ASSESSMENT_FILE).exists():
        return load_assessment_rules(Path(config_dir) / ASSESSMENT_FILE)
    return AssessmentRules(version="builtin")


# ---------------------------------------------------------------- versions kept in the database


def import_rules(store, config_dir: Path | str, now) -> tuple[AssessmentRules, bool]:
    """Validate ``<config_dir>/assessment.toml`` and keep it as a new version if its content changed.
    Returns (the rules in force, changed); without the file nothing changes."""
    import hashlib

    from sync_server.storage.assessment import add_rules_row, latest_rules_row

    path = Path(config_dir) / ASSESSMENT_FILE
    if not path.exists():
        with store.read() as conn:
            return current_rules(conn), False
    rules = load_assessment_rules(path)
    content = rules.model_dump_json()
    digest = hashlib.sha256(content.encode()).hexdigest()
    with store.write() as conn:
        latest = latest_rules_row(conn)
        if latest is not None and latest.digest == digest:
            return rules, False
        add_rules_row(conn, rules.version, content, digest, str(path), now)
    return rules, True


_PARSED: dict[str, AssessmentRules] = {}


def current_rules(conn) -> AssessmentRules:
    """The newest imported rule table, or the built-in defaults before the first import."""
    from sync_server.storage.assessment import latest_rules_row

    row = latest_rules_row(conn)
    if row is None:
        return AssessmentRules(version="builtin")
    if row.digest not in _PARSED:
        _PARSED[row.digest] = AssessmentRules.model_validate_json(row.content)
    return _PARSED[row.digest]
