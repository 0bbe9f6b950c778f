"""A citizen's mobile number for 核实 and 回访, protected as 国办发〔2019〕51号 asks: checked, encrypted at rest with
a key from the server's settings file (never the database), and shown masked (138****1234).

    normalise_mobile  the number a citizen typed, checked: 11 digits on a mainland mobile prefix, or ContactInvalid.
    mask_mobile       138****1234.
    ContactCipher     Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with the configured key.
"""

from __future__ import annotations

import re

from cryptography.fernet import Fernet, InvalidToken

from sync_server.errors import ServerError

MOBILE = re.compile(r"^1[3-9]\d{9}$")  # mainland mobile numbers: 13x–19x


class ContactInvalid(ServerError):
    """The number a citizen typed is not a mainland mobile number."""


class ContactUnreadable(ServerError):
    """A stored number cannot be decrypted with the configured key (wrong or rotated key, damaged value)."""


def normalise_mobile(text: str) -> str | None:
    """The number without spaces or dashes (and without +86), None when left empty; ContactInvalid when wrong."""
    digits = re.sub(r"[\s\-]", "", text or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not digits:
        return None
    if not MOBILE.match(digits):
        raise ContactInvalid("手机号格式不正确：应为 11 位数字、以 13–19 开头；也可以不填")
    return digits


def mask_mobile(number: str) -> str:
    """138****1234: enough to recognise, not enough to call."""
    return f"{number[:3]}****{number[-4:]}" if len(number) >= 7 else "****"


class ContactCipher:
    """Encrypts and decrypts stored numbers with the key of the server's settings file."""

    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as e:
            raise ContactUnreadable(f"联系方式加密密钥无效（应为 hcp server contact-key 生成的密钥）：{e}") from None

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, number: str) -> str:
        return self._fernet.encrypt(number.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ContactUnreadable("无法解密联系方式：密钥与加密时不同，或数据已损坏") from None
