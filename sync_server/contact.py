"""A citizen's mobile number for 核实 and 回访, protected as 国办发〔2019〕51号 asks: checked, encrypted at rest with
a key from the server's settings file (never the database), and shown masked (138****1234).

    normalise_mobile  the number a citizen typed, checked as the kiosk checks it (``haochaping.mobile``): 11 digits on a
                      mainland mobile prefix, or ContactInvalid.
    mask_mobile       138****1234 (``haochaping.mobile``).
    ContactCipher     Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with the configured key.
    protect_record    a terminal's ``contact`` record as it is stored (the number masked) and the ``contacts`` row
                      with the ciphertext, or why the number is refused (bad number, no key configured).
    contact_row       the ``contacts`` row of a number (the phone page's too).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from haochaping import mobile
from haochaping.errors import MobileInvalid
from haochaping.mobile import mask_mobile
from sync_server.errors import ServerError


class ContactInvalid(ServerError):
    """The number a citizen typed is not a mainland mobile number."""


class ContactKeyMissing(ServerError):
    """A number arrived but the server's settings file has no ``contact_key``: the number is not stored."""

    status = 503


class ContactUnreadable(ServerError):
    """A stored number cannot be decrypted with the configured key (wrong or rotated key, damaged value)."""


def normalise_mobile(text: str) -> str | None:
    """The number without spaces or dashes (and without +86), None when left empty; ContactInvalid when wrong."""
    try:
        return mobile.normalise_mobile(text)
    except MobileInvalid as e:
        raise ContactInvalid(str(e)) from None


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


NO_KEY = "服务器未配置联系方式加密密钥（设置文件 [server] contact_key，可用 hcp server contact-key 生成），手机号未保存"


def cipher_of(key: str) -> ContactCipher | None:
    """The cipher of the configured key; None when no key is configured (numbers are then refused)."""
    return ContactCipher(key) if key else None


def contact_row(
    cipher: ContactCipher | None, number: str, *, record_id: str, case_no: str, rating_id: str | None, source: str,
    given_at: str, stored_at: str,
) -> dict:  # fmt: skip
    """The ``contacts`` row of a checked number: its ciphertext and masked form, never the number itself."""
    if cipher is None:
        raise ContactKeyMissing(NO_KEY)
    return dict(
        record_id=record_id,
        case_no=case_no,
        rating_id=rating_id,
        source=source,
        masked=mask_mobile(number),
        ciphertext=cipher.encrypt(number),
        given_at=given_at,
        stored_at=stored_at,
    )


@dataclass(frozen=True)
class ProtectedRecord:
    """A terminal's ``contact`` record as the server keeps it."""

    stored: dict  # the record as stored: ``detail.mobile`` masked, or empty when the number was refused
    row: dict | None  # the ``contacts`` row with the ciphertext; None when refused
    refused: str | None  # why the number was not kept (shown in the batch's answer for this record)


def protect_record(rec: dict, cipher: ContactCipher | None, now_iso: str) -> ProtectedRecord:
    """Check and encrypt the number of a ``contact`` record (detail ``{"mobile": "<11 digits>", "rating": id}``).
    The record is kept in any case (its place in the terminal's chain), but never with the number in it."""
    detail = dict(rec.get("detail") or {})
    typed = detail.get("mobile")
    detail["mobile"] = None
    detail.pop("salt", None)  # with it, the chain's hash of the record could not be brute-forced; never stored
    try:
        number = normalise_mobile(typed) if isinstance(typed, str) else None
        if number is None:
            raise ContactInvalid("手机号为空或格式不正确：应为 11 位数字、以 13–19 开头")
        if not rec.get("case_no"):
            raise ContactInvalid("手机号记录缺少办件编号，无法对应差评工单")
        row = contact_row(
            cipher, number, record_id=rec["id"], case_no=rec["case_no"], rating_id=_text(detail.get("rating")),
            source="device", given_at=rec["occurred_at"], stored_at=now_iso,
        )  # fmt: skip
    except (ContactInvalid, ContactKeyMissing) as e:
        detail["refused"] = e.message
        return ProtectedRecord({**rec, "detail": detail}, None, e.message)
    detail["mobile"] = row["masked"]
    return ProtectedRecord({**rec, "detail": detail}, row, None)


def masked_record(rec: dict) -> dict:
    """Any record as it may be written down anywhere: a ``contact`` record's number masked (or left out)."""
    if rec.get("kind") != "contact":
        return rec
    detail = dict(rec.get("detail") or {})
    typed = detail.get("mobile")
    detail.pop("salt", None)
    try:
        number = normalise_mobile(typed) if isinstance(typed, str) else None
    except ContactInvalid:
        number = None
    detail["mobile"] = mask_mobile(number) if number else None
    return {**rec, "detail": detail}


def _text(value) -> str | None:
    return str(value)[:128] if value is not None else None
