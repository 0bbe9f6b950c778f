"""Errors shared by the kiosk and the server.

HaochapingError
 ├── ConfigError        a configuration file is missing, unreadable or invalid
 ├── MobileInvalid      a typed mobile number is not 11 digits on a mainland mobile prefix
 └── TokenError         a QR token cannot be trusted
      ├── TokenMalformed   the token is not in the expected shape
      ├── TokenForged      the signature does not match
      └── TokenExpired     the token is older than the configured validity
"""

from __future__ import annotations


class HaochapingError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(HaochapingError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, file: str, key: str, expected: str):
        self.file, self.key, self.expected = file, key, expected
        where = f"{file}: {key}" if key else file
        super().__init__(f"配置错误 {where}: {expected}")


class MobileInvalid(HaochapingError):
    """A typed mobile number is not 11 digits on a mainland mobile prefix (13x–19x)."""


class TokenError(HaochapingError):
    """A QR token cannot be trusted."""


class TokenMalformed(TokenError):
    """The token is not in the expected shape."""


class TokenForged(TokenError):
    """The signature does not match the device's secret."""


class TokenExpired(TokenError):
    """The token is older than the configured validity."""
