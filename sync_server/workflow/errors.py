"""Errors of the 差评 workflow: domain errors with a message and an HTTP status, no page title. The console maps them
to its error page at the edge (``console.errorpages.WORKFLOW_TITLES``).

HaochapingError → ServerError → WorkflowError
 ├── StepRefused (409)           the step is not possible from the record's current state
 ├── RoleRefused (403)           this role may not take this step
 ├── OutsideDepartment (403)     a department reviewer acting on another department's record
 ├── OwnAppeal (403)             four-eyes: an administrator deciding an appeal they filed
 ├── CaseNotFound (404)          no such handling record in the viewer's scope
 ├── StepInputInvalid (400)      a required text or choice is missing or malformed
 └── EvidenceRejected (400)      an evidence file of a type or size that is not accepted
"""

from __future__ import annotations

from sync_server.errors import ServerError


class WorkflowError(ServerError):
    """Base of the workflow's errors."""


class StepRefused(WorkflowError):
    """The step is not possible from the record's current state."""

    status = 409


class RoleRefused(WorkflowError):
    """This role may not take this step."""

    status = 403


class OutsideDepartment(WorkflowError):
    """A department reviewer acting on a record of another department."""

    status = 403


class OwnAppeal(WorkflowError):
    """Four-eyes: whoever filed an appeal may not decide it."""

    status = 403


class CaseNotFound(WorkflowError):
    """No such handling record within the viewer's scope."""

    status = 404


class StepInputInvalid(WorkflowError):
    """A required text or choice of a step is missing or malformed; ``field`` names the form field."""

    status = 400

    def __init__(self, message: str, field: str = "text"):
        super().__init__(message)
        self.field = field


class EvidenceRejected(WorkflowError):
    """An evidence file whose type or size is not accepted."""

    status = 400
    field = "evidence"
