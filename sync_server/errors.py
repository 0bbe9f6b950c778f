"""Errors of the central server; each carries the HTTP status and a Chinese message for the API's one error shape.

ServerError                      base: ``{"ok": false, "error": message, "status": status}``
 ├── BadRequest (400)            the request cannot be understood
 ├── Unauthorized (401)          the caller is not who it says
 │    ├── SignatureMissing       signature headers are missing
 │    ├── UnknownDevice          the device is unknown or revoked
 │    ├── StaleRequest           the timestamp is outside the allowed skew
 │    ├── SignatureInvalid       the signature does not match
 │    ├── NonceReplayed          the nonce was seen before
 │    └── CaseSystemKeyInvalid   the case system's API key is wrong
 ├── Forbidden (403)             authenticated, but not allowed to do this
 ├── NotFound (404)              no such thing
 │    └── EnrolmentCodeInvalid   no such enrolment code
 ├── Conflict (409)              the state does not allow this (e.g. the case is already rated)
 ├── Gone (410)                  the thing existed but can no longer be used
 │    └── EnrolmentCodeSpent     the enrolment code was used or has expired
 ├── PayloadTooLarge (413)       the body or batch is over the limit
 ├── Unprocessable (422)         the body is well-formed but invalid
 ├── NotConfigured (503)         no hall configuration has been imported yet
 └── NotWired (500)              the application did not wire what follows a settled rating at start-up
"""

from __future__ import annotations

from haochaping.errors import HaochapingError


class ServerError(HaochapingError):
    """Base of every error the server raises on purpose."""

    status = 500

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class BadRequest(ServerError):
    """The request cannot be understood."""

    status = 400


class Unauthorized(ServerError):
    """The caller is not who it says."""

    status = 401


class SignatureMissing(Unauthorized):
    """The signature headers are missing."""


class UnknownDevice(Unauthorized):
    """The device is unknown or revoked."""


class StaleRequest(Unauthorized):
    """The request's timestamp is outside the allowed clock skew."""


class SignatureInvalid(Unauthorized):
    """The signature does not match the device's secret."""


class NonceReplayed(Unauthorized):
    """The nonce was seen before: a replayed request."""


class CaseSystemKeyInvalid(Unauthorized):
    """The case system's API key is missing or wrong."""


class Forbidden(ServerError):
    """Authenticated, but not allowed to do this."""

    status = 403


class NotFound(ServerError):
    """No such thing."""

    status = 404


class EnrolmentCodeInvalid(NotFound):
    """No such enrolment code."""


class Conflict(ServerError):
    """The current state does not allow this."""

    status = 409


class Gone(ServerError):
    """The thing existed but can no longer be used."""

    status = 410


class EnrolmentCodeSpent(Gone):
    """The enrolment code was used already or has expired."""


class PayloadTooLarge(ServerError):
    """The body or the batch is over the limit."""

    status = 413


class Unprocessable(ServerError):
    """The body is well-formed but invalid."""

    status = 422


class NotConfigured(ServerError):
    """No hall configuration has been imported yet."""

    status = 503


class NotWired(ServerError):
    """The application did not wire what follows a settled rating (rollups, 差评工单) at start-up."""

    status = 500
