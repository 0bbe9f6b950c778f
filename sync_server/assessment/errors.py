"""Errors of 考核 and 考勤; the console shows each as a page with its message (they carry no HTML).

AssessmentError (ServerError)
 ├── InputRejected (400)        an unknown kind, points out of range, a date outside the period, an unknown clerk,
 │                              evidence of the wrong type, a missing note
 ├── SameConfirmer (403)        four-eyes: the second confirmation must come from another administrator
 ├── NotOnPanel (403)           复核 is decided by a member of the 考核领导小组 who did not confirm the event
 ├── EventNotFound (404)        no such event or objection
 └── StateRefused (409)         not possible now: already decided, or the year is closed
"""

from __future__ import annotations

from sync_server.errors import ServerError


class AssessmentError(ServerError):
    """Base of the assessment's errors."""

    status = 400
    title = "无法办理"


class InputRejected(AssessmentError):
    """A value of a form or command is missing or not acceptable."""

    status = 400
    title = "填写有误"


class SameConfirmer(AssessmentError):
    """Four-eyes: the same administrator may not confirm a heavy deduction twice."""

    status = 403
    title = "需由另一位管理员确认"


class NotOnPanel(AssessmentError):
    """Only a 考核领导小组 member who did not confirm the event may decide its 复核."""

    status = 403
    title = "无权复核"


class EventNotFound(AssessmentError):
    """No such assessment event or objection."""

    status = 404
    title = "未找到"


class StateRefused(AssessmentError):
    """The step is not possible in the current state (decided already, or the year closed)."""

    status = 409
    title = "无法办理"
