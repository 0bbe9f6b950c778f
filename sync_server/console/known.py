"""Filter values checked against the hall configuration: an unknown department, window or clerk in a dashboard,
list or report filter is an error with a clear message, never an empty page labelled with the unknown code.

A code of the current configuration is known; one that only an earlier configuration had (a clerk who left, a
window renamed) is known too, so old ratings stay reachable."""

from __future__ import annotations

import json

from sqlalchemy import Connection

from sync_server.console.errors import BadInput
from sync_server.console.labels import Names
from sync_server.storage.configs import every_content

KINDS = {
    "department": ("departments", "code", "部门"),
    "window": ("windows", "code", "窗口"),
    "clerk": ("clerks", "no", "工号"),
}


def check_filters(conn: Connection, names: Names, **codes: str | None) -> None:
    """Raise BadInput for the first given code (department=…, window=…, clerk=…) no configuration has."""
    for kind, code in codes.items():
        if not code or code in getattr(names, KINDS[kind][0]):
            continue
        if code not in _ever_configured(conn, kind):
            raise BadInput(f"没有{KINDS[kind][2]}“{code}”：请从列表中选择，或清空该筛选条件", field=kind)


def _ever_configured(conn: Connection, kind: str) -> set[str]:
    part, key, _label = KINDS[kind]
    known: set[str] = set()
    for content in every_content(conn):
        known.update(str(item.get(key)) for item in json.loads(content).get("hall", {}).get(part, []))
    return known
