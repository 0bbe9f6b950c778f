"""The ratings list's 未评价办件 view (``/console/ratings?show=unrated``): prompted cases no citizen rated, with what
happened to each (timed out, a bad level left without a reason, closed by a 系统默认评价, only prompted), the
same period, department, window, clerk and matter filters as the ratings, and the total of the filter."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from sync_server.console.errors import BadInput
from sync_server.storage.unrated_cases import unrated_page, unrated_total

OUTCOME_LABELS = {
    "timeout": "未评价，已超时",
    "held": "点了差评未选原因（待复核）",
    "default": "系统默认评价",
    "prompt_only": "已提示，尚无结果",
}


def unrated_context(request: Request, f, scope, names, after, limit: int) -> dict:
    if f.level or f.channel is not None or f.flag:
        raise BadInput("未评价办件没有评价等级、渠道和完整性标记：请清空这些筛选条件", field="show")
    with request.app.state.store.read() as conn:
        rows, cursor = unrated_page(conn, f, scope, names, after, limit)
        total = unrated_total(conn, f, scope, names)
    base = {**f.query(), "show": "unrated"}
    return dict(
        unrated=rows,
        outcome_labels=OUTCOME_LABELS,
        total=total,
        items=[],
        next_url="/console/ratings?" + urlencode({**base, "after": f"{cursor[0]}|{cursor[1]}"}) if cursor else None,
        first_url="/console/ratings?" + urlencode(base) if after else None,
    )
