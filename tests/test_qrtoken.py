"""The QR token: signed with the device secret, verifiable without having heard of the case."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from haochaping.errors import TokenError, TokenExpired, TokenForged, TokenMalformed
from haochaping.qrtoken import MAX_TOKEN_CHARS, make_token, rating_url, read_claims, verify_token

SECRET_A = bytes.fromhex("11" * 32)
SECRET_B = bytes.fromhex("22" * 32)
SECRETS = {"dev-a": SECRET_A, "dev-b": SECRET_B}
ISSUED = datetime(2026, 11, 27, 9, 30, 15, tzinfo=UTC)
VALID = timedelta(days=7)


def verify(token: str, now: datetime = ISSUED + timedelta(minutes=5)):
    return verify_token(token, SECRETS.get, now, VALID)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def body_of(claims: dict) -> str:
    return b64(json.dumps(claims, separators=(",", ":")).encode())


def test_round_trip():
    token = make_token("dev-a", "2026112700001", ISSUED, SECRET_A)
    claims = verify(token)
    assert (claims.device_id, claims.case_no, claims.issued_at) == ("dev-a", "2026112700001", ISSUED)
    assert read_claims(token) == claims


def test_valid_until_the_last_second_of_the_period():
    token = make_token("dev-a", "C1", ISSUED, SECRET_A)
    assert verify(token, now=ISSUED + VALID).case_no == "C1"
    with pytest.raises(TokenExpired, match="已过期"):
        verify(token, now=ISSUED + VALID + timedelta(seconds=1))


def test_token_fits_a_url_and_a_qr_code():
    token = make_token("local-0a1b2c3d4e5f", "2026112700001-ABCDEFGHIJ/xyz.01", ISSUED, SECRET_A)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) < 200
    assert rating_url("https://hcp.example.gov.cn/", token) == f"https://hcp.example.gov.cn/r/{token}"
    assert rating_url("http://127.0.0.1:8000", token) == f"http://127.0.0.1:8000/r/{token}"


def forged_signature() -> str:
    body, sig = make_token("dev-a", "C1", ISSUED, SECRET_A).split(".")
    return f"{body}.{('A' if sig[0] != 'A' else 'B') + sig[1:]}"


def tampered_payload() -> str:
    _body, sig = make_token("dev-a", "C1", ISSUED, SECRET_A).split(".")
    return f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C2', 't': int(ISSUED.timestamp())})}.{sig}"


def backdated() -> str:
    """The issue time moved forward to dodge expiry, keeping the old signature."""
    _body, sig = make_token("dev-a", "C1", ISSUED - timedelta(days=30), SECRET_A).split(".")
    return f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C1', 't': int(ISSUED.timestamp())})}.{sig}"


@pytest.mark.parametrize(
    "token, error, words",
    [
        (forged_signature(), TokenForged, "签名不符"),
        (make_token("dev-a", "C1", ISSUED, SECRET_B), TokenForged, "签名不符"),  # other device's secret
        (make_token("dev-b", "C1", ISSUED, SECRET_A), TokenForged, "签名不符"),
        (make_token("dev-unknown", "C1", ISSUED, SECRET_A), TokenForged, "签名不符"),
        (tampered_payload(), TokenForged, "签名不符"),
        (backdated(), TokenForged, "签名不符"),
        (make_token("dev-a", "C1", ISSUED + timedelta(minutes=5) - timedelta(days=8), SECRET_A), TokenExpired, "过期"),
        (make_token("dev-a", "C1", ISSUED + timedelta(days=1), SECRET_A), TokenMalformed, "未来"),
        ("", TokenMalformed, "格式不正确"),
        ("garbage", TokenMalformed, "格式不正确"),
        ("a.b.c", TokenMalformed, "格式不正确"),
        ("!!!.???", TokenMalformed, "格式不正确"),
        (".", TokenMalformed, "格式不正确"),
        (f"{b64(b'not json')}.AAAA", TokenMalformed, "格式不正确"),
        (f"{b64(b'[1, 2]')}.AAAA", TokenMalformed, "格式不正确"),
        (f"{body_of({'v': 2, 'd': 'dev-a', 'c': 'C1', 't': 1})}.AAAA", TokenMalformed, "格式不正确"),
        (f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C1'})}.AAAA", TokenMalformed, "格式不正确"),
        (f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C1', 't': 'soon'})}.AAAA", TokenMalformed, "格式不正确"),
        (f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C1', 't': 10**20})}.AAAA", TokenMalformed, "格式不正确"),
        (f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C1', 't': -(10**15)})}.AAAA", TokenMalformed, "格式不正确"),
        (f"{body_of({'v': 1, 'd': 'dev-a', 'c': 'C1', 't': 10**400})}.AAAA", TokenMalformed, "格式不正确"),
        ("A" * (MAX_TOKEN_CHARS + 1) + ".AAAA", TokenMalformed, "格式不正确"),
        (make_token("dev-a", "C" * 600, ISSUED, SECRET_A), TokenMalformed, "格式不正确"),  # oversized
    ],
)
def test_untrustworthy_tokens(token, error, words):
    with pytest.raises(error, match=words) as raised:
        verify(token)
    assert isinstance(raised.value, TokenError)


@pytest.mark.parametrize("not_a_token", [None, 12345, b"abc.def", ["a", "b"]])
def test_non_strings_are_malformed(not_a_token):
    with pytest.raises(TokenMalformed):
        verify(not_a_token)


def test_secret_lookup_gets_the_claimed_device():
    asked = []
    token = make_token("dev-b", "C1", ISSUED, SECRET_B)
    verify_token(token, lambda device: asked.append(device) or SECRETS.get(device), ISSUED, VALID)
    assert asked == ["dev-b"]
