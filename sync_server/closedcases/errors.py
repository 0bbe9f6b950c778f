"""Errors of the closed-case intake.

ClosedCaseError (HaochapingError)   base
 ├── BatchRefused                   a batch or file holds bad cases; nothing of it was stored
 └── FileUnreadable                 the file is not a CSV or XLSX this import can read
"""

from __future__ import annotations

from haochaping.errors import HaochapingError


class ClosedCaseError(HaochapingError):
    """Base of the closed-case intake's errors."""


class BatchRefused(ClosedCaseError):
    """A batch or file holds bad cases; nothing of it was stored."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:20]
        more = f"；另有 {len(problems) - len(shown)} 处问题" if len(problems) > len(shown) else ""
        super().__init__("；".join(shown) + more)


class FileUnreadable(ClosedCaseError):
    """The file is not a CSV or XLSX this import can read."""
