"""Every action the product writes to the audit log has a Chinese label on the audit page: the test reads each call
of the audit writers in the product's source, so a new action without a label fails here, not in front of a user."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sync_server.console.auditview import ACTION_LABELS, action_label
from sync_server.workflow.machine import Step

ROOT = Path(__file__).resolve().parents[2]
WRITERS = {"write_audit", "append_entry", "audit"}
ACTION_ARG = 3  # (conn, now, actor, action, ...)


def _written_actions() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "sync_server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in WRITERS:
                continue
            args = {kw.arg: kw.value for kw in node.keywords}
            action = node.args[ACTION_ARG] if len(node.args) > ACTION_ARG else args.get("action")
            if isinstance(action, ast.Constant) and isinstance(action.value, str):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", action.value))
    return found


WRITTEN = _written_actions()


def test_the_source_scan_finds_the_audit_writes():
    actions = {a for _, a in WRITTEN}
    assert {"signin", "user.add", "assessment.year.close", "upstream.resend"} <= actions


@pytest.mark.parametrize(("where", "action"), WRITTEN, ids=[f"{a}@{w}" for w, a in WRITTEN])
def test_every_written_action_has_a_chinese_label(where, action):
    label = action_label(action)
    assert label != action, f"{where}: 审计操作 {action} 没有中文名称"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in label)


def test_every_case_step_has_a_label():
    for step in Step:
        assert action_label(f"case.{step.value}").startswith("差评工单：")


def test_the_action_filter_offers_every_label():
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in ACTION_LABELS.values())
