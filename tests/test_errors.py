"""One error root: every exception class the product packages define derives from ``HaochapingError`` (so the
``hcp`` command line catches one type), and the workflow's domain errors carry no page title."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from haochaping.errors import HaochapingError

ROOT = Path(__file__).resolve().parent.parent


def defined_exceptions() -> list[type]:
    found = []
    for package in ("haochaping", "kiosk", "sync_server"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "alembic" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = [
                node.name
                for node in tree.body
                if isinstance(node, ast.ClassDef)
                and any(ast.unparse(base).endswith(("Error", "Exception", "Problem", "Refused")) for base in node.bases)
            ]
            if names:
                module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
                found += [getattr(module, name) for name in names]
    return found


def test_every_project_exception_derives_from_haochaping_error():
    exceptions = defined_exceptions()
    assert len(exceptions) > 20
    outside = [f"{e.__module__}.{e.__qualname__}" for e in exceptions if not issubclass(e, HaochapingError)]
    assert outside == []


def test_workflow_errors_carry_no_page_title_and_the_console_gives_them_one():
    from sync_server.console.errorpages import workflow_title
    from sync_server.workflow.errors import OwnAppeal, StepRefused, WorkflowError

    assert all(not hasattr(kind, "title") for kind in (WorkflowError, StepRefused, OwnAppeal))
    assert (workflow_title(OwnAppeal("x")), workflow_title(StepRefused("x"))) == ("需由他人审核", "无法办理")
