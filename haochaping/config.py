"""Configuration: the hall, the national reason list and the province rules, declared once and validated.

Every key has a type, a default where one makes sense, and a help text (``description``).
A bad file fails at load time with the file, the key and what was expected (``ConfigError``).
Logic receives these objects as arguments; nothing here reads the environment.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from haochaping.errors import ConfigError
from haochaping.levels import Level


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- hall


class Department(_Strict):
    code: str = Field(min_length=1, max_length=32, description="部门编码")
    name: str = Field(min_length=1, max_length=64, description="部门名称")


class Matter(_Strict):
    code: str = Field(min_length=1, max_length=64, description="事项编码")
    name: str = Field(min_length=1, max_length=128, description="事项名称")
    department: str = Field(description="办理部门的编码")
    promised_days: int | None = Field(
        default=None, ge=1, le=365, description="承诺办结时限（工作日），办件系统未报送时用于限时办结"
    )


class Window(_Strict):
    code: str = Field(min_length=1, max_length=32, description="窗口编号")
    name: str = Field(min_length=1, max_length=64, description="窗口名称，显示在评价器上")
    department: str = Field(description="所属部门的编码")
    matters: list[str] = Field(min_length=1, description="本窗口可办事项的编码；第一项为扫码时的默认事项")


class Clerk(_Strict):
    no: str = Field(min_length=1, max_length=32, description="工号")
    name: str = Field(min_length=1, max_length=32, description="姓名")
    department: str = Field(description="所属部门的编码")
    pin_hash: str = Field(description="PIN 的 scrypt 散列（hcp pin-hash 生成），从不保存明文")
    photo: str | None = Field(default=None, description="照片文件（相对配置目录），无则显示姓氏")


class Hall(_Strict):
    code: str = Field(min_length=1, max_length=32, description="大厅编码")
    time_zone: str = Field(default="Asia/Shanghai", description="大厅所在时区（IANA 名称）：评价器各屏显示的时间")
    name: str = Field(min_length=1, max_length=64, description="大厅名称")
    region_code: str = Field(pattern=r"^\d{6}$", description="行政区划代码（6 位）")
    departments: list[Department] = Field(min_length=1, description="部门")
    windows: list[Window] = Field(min_length=1, description="窗口")
    clerks: list[Clerk] = Field(default_factory=list, description="窗口工作人员")
    matters: list[Matter] = Field(min_length=1, description="事项")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知的时区 {value!r}（应为 IANA 名称，如 Asia/Shanghai）") from None
        return value

    def local_time(self, moment: datetime) -> datetime:
        """A moment in the hall's time zone (China time by default): every time a terminal shows."""
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo(self.time_zone))

    @model_validator(mode="after")
    def _references_resolve(self) -> Hall:
        depts = {d.code for d in self.departments}
        matters = {m.code for m in self.matters}
        for i, w in enumerate(self.windows):
            if w.department not in depts:
                raise ValueError(f"windows[{i}].department: 未知部门 {w.department!r}")
            for m in w.matters:
                if m not in matters:
                    raise ValueError(f"windows[{i}].matters: 未知事项 {m!r}")
        for kind, items in (("clerks", self.clerks), ("matters", self.matters)):
            for i, item in enumerate(items):
                if item.department not in depts:
                    raise ValueError(f"{kind}[{i}].department: 未知部门 {item.department!r}")
        for kind, items, key in (
            ("departments", self.departments, "code"),
            ("windows", self.windows, "code"),
            ("clerks", self.clerks, "no"),
            ("matters", self.matters, "code"),
        ):
            seen: set[str] = set()
            for i, item in enumerate(items):
                value = getattr(item, key)
                if value in seen:
                    raise ValueError(f"{kind}[{i}].{key}: 重复的 {value!r}")
                seen.add(value)
        return self

    def window(self, code: str) -> Window:
        return _find(self.windows, "code", code, "窗口")

    def clerk(self, no: str) -> Clerk:
        return _find(self.clerks, "no", no, "工号")

    def matter(self, code: str) -> Matter:
        return _find(self.matters, "code", code, "事项")

    def department(self, code: str) -> Department:
        return _find(self.departments, "code", code, "部门")


def _find(items, key: str, value: str, what: str):
    for item in items:
        if getattr(item, key) == value:
            return item
    raise KeyError(f"未知{what} {value}")


# ---------------------------------------------------------------- reasons


class Reason(_Strict):
    code: int = Field(description="测评内容代码 = 等级 × 100 + 序号")
    level: int = Field(ge=1, le=5, description="适用的评价等级")
    label: str = Field(min_length=1, max_length=64, description="测评内容")

    @model_validator(mode="after")
    def _code_matches_level(self) -> Reason:
        if self.code // 100 != self.level:
            raise ValueError(f"code {self.code}: 代码应为 等级×100+序号（等级 {self.level}）")
        return self


class ReasonList(_Strict):
    version: str = Field(min_length=1, description="测评内容清单的版本，随评价一起保存")
    reasons: list[Reason] = Field(min_length=1, description="全国统一测评内容")

    @model_validator(mode="after")
    def _each_level_has_reasons(self) -> ReasonList:
        codes = [r.code for r in self.reasons]
        if len(codes) != len(set(codes)):
            raise ValueError("reasons: 代码重复")
        for level in Level:
            if not self.for_level(level):
                raise ValueError(f"reasons: 等级 {int(level)}（{level.label}）没有测评内容")
        return self

    def for_level(self, level: int) -> list[Reason]:
        return [r for r in self.reasons if r.level == int(level)]

    def label(self, code: int) -> str:
        return next(r.label for r in self.reasons if r.code == code)


# ---------------------------------------------------------------- rules


class DeadlineRules(_Strict):
    contact_days: int = Field(default=2, ge=1, le=30, description="差评核实：联系群众的期限（工作日）")
    simple_fix_days: int = Field(default=5, ge=1, le=60, description="简单问题整改期限（工作日）")
    complex_fix_days: int = Field(default=15, ge=1, le=90, description="复杂问题整改期限（工作日）")
    revisit_days: int = Field(
        default=5, ge=1, le=30, description="回访期限（工作日）：自整改完成（属实）或解释说明（不属实）之日起算"
    )
    revisit_reopen_max: int = Field(
        default=1,
        ge=0,
        le=5,
        description="回访“不满意”重新整改（或重新解释说明）的最多次数；此后“不满意”如实记录并结束回访",
    )
    yellow_card_days: int = Field(default=1, ge=0, le=10, description="到期前多少个工作日亮黄牌")
    fix_clock_from: Literal["received", "verified"] = Field(
        default="received",
        description="整改、解释说明期限的起算：received 自收到差评之日（篇10“2、5、15”）；verified 自核实之日",
    )


class ContactRules(_Strict):
    offer: bool = Field(default=True, description="差评后是否请群众留下手机号（可不填），便于核实和回访")
    consent: str = Field(
        default="您的手机号仅用于本次差评的核实和回访，加密保存，办结后按规定删除。",
        min_length=1,
        max_length=120,
        description="留手机号时显示的一行告知（同意）文字",
    )
    keep_days: int = Field(default=180, ge=1, le=3650, description="差评工单办结后多少天删除所留手机号")


class Rules(_Strict):
    province: str = Field(default="默认", description="规则适用的省份或地区")
    prompt_timeout_s: int = Field(
        default=60, ge=10, le=600, description="窗口评价提示的超时秒数，超时记为“未评价，已超时”"
    )
    reasons_timeout_s: int = Field(default=60, ge=10, le=600, description="选择测评内容页面的超时秒数")
    thanks_s: int = Field(default=4, ge=1, le=30, description="“谢谢”页面停留秒数")
    min_prompt_interval_s: int = Field(
        default=20, ge=0, le=3600, description="同一窗口两次评价提示之间的最短间隔（秒）"
    )
    bad_without_reason: Literal["count", "hold"] = Field(
        default="count",
        description="点了“不满意/非常不满意”却未选原因就超时：count 记为差评（测评内容“未选择”），"
        "hold 记在超时记录上（带所点等级）并标记待复核",
    )
    interrupted_reprompt_min: int = Field(
        default=30,
        ge=0,
        le=1440,
        description="评价器断电或崩溃使评价中断（未评价，已中断）后，"
        "多少分钟内允许对该办件再发起一次评价；0 表示不允许",
    )
    qr_valid_days: int = Field(default=7, ge=1, le=90, description="办件可扫码评价的天数")
    default_rating: Literal[0, 3, 4, 5] = Field(default=0, description="未评价办件的默认评价等级；0 表示不做默认评价")
    default_rating_after_days: int = Field(default=7, ge=1, le=90, description="办结后多少个自然日仍未评价即做默认评价")
    follow_up_allowed: bool = Field(default=True, description="是否允许一次追评（assessNumber 2）")
    deadlines: DeadlineRules = Field(default_factory=DeadlineRules, description="差评处理期限（工作日）")
    contact: ContactRules = Field(default_factory=ContactRules, description="差评后留下的手机号（核实、回访用）")


# ---------------------------------------------------------------- loading


class HallConfig(_Strict):
    """Everything a terminal or the server needs to know about one hall."""

    hall: Hall
    reasons: ReasonList
    rules: Rules

    @property
    def version(self) -> str:
        """A short digest of the whole configuration, shown on the maintenance screen."""
        import hashlib

        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), "", "文件不存在") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), "", f"不是有效的 TOML：{e}") from None
    except OSError as e:
        raise ConfigError(str(path), "", f"无法读取：{e.strerror}") from None


def validate(model: type[BaseModel], data: dict, path: Path):
    """Build ``model`` from ``data``, turning the first validation error into a ConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = _expected(err)
        if not key and ": " in msg:  # a cross-reference check names its key in the message
            key, msg = msg.split(": ", 1)
        return _raise(path, key, msg)


# What was expected, in Chinese, for pydantic's common error types (others keep pydantic's text).
_EXPECTED = {
    "missing": "缺少此项",
    "extra_forbidden": "未知的配置项",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "string_type": "应为字符串（加引号）",
    "list_type": "应为列表 [ … ]",
    "model_type": "应为一个表（[…] 段）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "至多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "至多 {max_length} 项",
    "string_pattern_mismatch": "应符合格式 {pattern}",
    "literal_error": "应为以下之一：{expected}",
}


def _expected(err: dict) -> str:
    template = _EXPECTED.get(err["type"])
    if template is None:
        return err["msg"].removeprefix("Value error, ")
    ctx = dict(err.get("ctx") or {})
    if "expected" in ctx:
        ctx["expected"] = str(ctx["expected"]).replace(" or ", "、").replace(", ", "、")
    text = template.format(**ctx)
    value, name = err.get("input"), str(err["loc"][-1] if err["loc"] else "")
    secret = any(word in name for word in ("token", "secret", "pin", "password"))
    if err["type"] not in ("missing", "extra_forbidden") and not secret and isinstance(value, str | int | float | bool):
        text += f"（现为 {str(value)[:40]!r}）" if isinstance(value, str) else f"（现为 {value!r}）"
    return text


def _raise(path: Path, key: str, msg: str):
    raise ConfigError(str(path), key, msg)


def load_hall_config(config_dir: Path, rules_file: str = "rules/default.toml") -> HallConfig:
    """Load ``hall.toml``, ``reasons.toml`` and a rules file from ``config_dir``."""
    config_dir = Path(config_dir)
    parts = {}
    for name, model, file in (
        ("hall", Hall, "hall.toml"),
        ("reasons", ReasonList, "reasons.toml"),
        ("rules", Rules, rules_file),
    ):
        path = config_dir / file
        parts[name] = validate(model, read_toml(path), path)
    return HallConfig(**parts)
