"""Names and formats the console shows: department/window/clerk/matter names from the configuration, levels,
channels, percentages, China time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from haochaping.levels import CHANNELS, LEVEL_LABELS, Level
from haochaping.moments import china_today  # noqa: F401 - re-exported for the console views
from sync_server.storage.rollups import CHINA, STATUS_LABELS


@dataclass(frozen=True)
class Names:
    """Code → name tables of one configuration (empty before any import)."""

    hall_name: str = "政务服务中心"
    region_code: str = ""
    departments: dict[str, str] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    window_department: dict[str, str] = field(default_factory=dict)
    clerks: dict[str, str] = field(default_factory=dict)
    matters: dict[str, str] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config) -> Names:
        if config is None:
            return cls()
        hall = config.hall
        return cls(
            hall_name=hall.name,
            region_code=hall.region_code,
            departments={d.code: d.name for d in hall.departments},
            windows={w.code: w.name for w in hall.windows},
            window_department={w.code: w.department for w in hall.windows},
            clerks={c.no: c.name for c in hall.clerks},
            matters={m.code: m.name for m in hall.matters},
            reasons={r.code: r.label for r in config.reasons.reasons},
        )

    def department(self, code: str | None) -> str:
        return self.departments.get(code or "", code or "（未归属）")

    def window(self, code: str | None) -> str:
        return self.windows.get(code or "", code or "（无窗口）")

    def clerk(self, no: str | None) -> str:
        if not no:
            return "（未记录）"
        return f"{self.clerks[no]}（{no}）" if no in self.clerks else no

    def matter(self, code: str | None) -> str:
        return self.matters.get(code or "", code or "（未记录）")

    def reason(self, code: int) -> str:
        return self.reasons.get(int(code), f"代码 {code}")


def level_label(level: int | None) -> str:
    return LEVEL_LABELS[Level(level)] if level in (1, 2, 3, 4, 5) else "—"


def channel_label(channel: int | None) -> str:
    return CHANNELS[channel].label if channel in CHANNELS else f"渠道 {channel}"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def mean(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def china_time(iso: str | None) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def gbt_time(iso: str) -> str:
    """评价时间 in GB/T 39046 form YYYYMMDDThhmmss, China time."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).strftime("%Y%m%dT%H%M%S")


# the integrity flags a record can carry, as the ratings list's filter and the integrity page name them
FLAG_LABELS = {
    "any": "任一完整性标记",
    "gap": "序号缺失",
    "broken_link": "散列不衔接",
    "seq_reused": "序号重复",
    "conflict": "内容冲突",
    "window_mismatch": "窗口不符",
    "time_backwards": "时间倒退",
    "future_time": "时间超前",
    "bad_without_reason": "差评未选原因",
    "two_channels": "提示期间双渠道评价",
    "unknown_reason": "未知测评内容代码",
}
