"""The five rating levels and the rating channels (评价渠道), one internal code everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    """Rating level; higher is better. GB/T 39046 codes the other way round: map at export."""

    VERY_SATISFIED = 5
    SATISFIED = 4
    BASICALLY_SATISFIED = 3
    DISSATISFIED = 2
    VERY_DISSATISFIED = 1

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]

    @property
    def is_bad(self) -> bool:
        """差评: levels 1 and 2."""
        return self <= Level.DISSATISFIED

    @property
    def gbt39046_code(self) -> int:
        """满意度代码 of GB/T 39046-2020 表9, where 1 = 非常满意."""
        return 6 - int(self)


LEVEL_LABELS = {
    Level.VERY_SATISFIED: "非常满意",
    Level.SATISFIED: "满意",
    Level.BASICALLY_SATISFIED: "基本满意",
    Level.DISSATISFIED: "不满意",
    Level.VERY_DISSATISFIED: "非常不满意",
}

# Display order on the kiosk: best first, as the national prompt shows it.
LEVELS_BEST_FIRST = tuple(sorted(Level, reverse=True))


@dataclass(frozen=True)
class Channel:
    code: int
    label: str


# 评价渠道 (platform `pf` codes); 0 is our code for 系统默认评价.
CHANNELS = {
    0: Channel(0, "系统默认评价"),
    1: Channel(1, "PC端"),
    2: Channel(2, "移动端"),
    3: Channel(3, "二维码"),
    4: Channel(4, "政务大厅平板电脑"),
    5: Channel(5, "政务大厅其他终端"),
    6: Channel(6, "电话"),
    7: Channel(7, "短信"),
}
CHANNEL_DEFAULT = 0
CHANNEL_QR = 3
CHANNEL_HALL_TABLET = 4
CHANNEL_HALL_OTHER = 5

COMMENT_MAX_CHARS = 150
