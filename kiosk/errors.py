"""Errors the kiosk raises on purpose (all are ``haochaping.errors.HaochapingError``).

HaochapingError
 └── KioskError
      ├── OutboxError          the local database refused a write or read
      │    ├── OutboxFull        the disk is full: nothing was stored, nothing stored was lost
      │    └── RecordImmutable   something tried to edit or delete a stored record
      ├── TriggerRefused       a prompt cannot be shown now (reason in the message)
      ├── FontNotFound         no CJK font on the system and none configured
      └── SyncError            talking to the central server did not work
           ├── ServerUnavailable  no usable answer (network, timeout, 5xx, 429, garbled): retry later
           ├── ServerRefused      the server answered with a 4xx refusal (message from the server)
           └── EnrolmentFailed    the one-time code could not be exchanged for a device identity
"""

from __future__ import annotations

from haochaping.errors import HaochapingError


class KioskError(HaochapingError):
    """Base of the kiosk's own errors."""


class OutboxError(KioskError):
    """The local database refused a write or read."""


class OutboxFull(OutboxError):
    """The disk is full: the record was not stored, and nothing stored was lost."""


class RecordImmutable(OutboxError):
    """Something tried to edit or delete a stored record."""


class TriggerRefused(KioskError):
    """A prompt cannot be shown now; the message says why, in Chinese, for the clerk."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class FontNotFound(KioskError):
    """No CJK font was found on the system and none is configured (setting ``font_path``)."""


class SyncError(KioskError):
    """Talking to the central server did not work."""


class ServerUnavailable(SyncError):
    """No usable answer (connection, timeout, 5xx, 429, truncated or unparseable body): retry later."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServerRefused(SyncError):
    """The server answered with a 4xx refusal; ``status`` is the HTTP status, the message is the server's."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class EnrolmentFailed(SyncError):
    """The one-time enrolment code could not be exchanged for a device identity."""
