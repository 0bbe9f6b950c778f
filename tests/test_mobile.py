"""The mobile number a citizen may leave after a 差评: one check shared by the kiosk and the server, masked in logs."""

from __future__ import annotations

import logging

import pytest

from haochaping.errors import HaochapingError, MobileInvalid
from haochaping.mobile import MOBILE_INVALID, is_mobile, mask_mobile, mask_mobiles, normalise_mobile


@pytest.mark.parametrize(
    "typed, number",
    [
        ("13800138000", "13800138000"),
        ("199 1234 5678", "19912345678"),
        ("138-0013-8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_a_mainland_mobile_number_is_taken_without_spaces_dashes_or_86(typed, number):
    assert normalise_mobile(typed) == number


@pytest.mark.parametrize(
    "typed",
    ["1380013800", "138001380001", "12800138000", "10000000000", "23800138000", "1380013800a", "０13800138000"],
)
def test_anything_else_is_refused_with_one_clear_sentence(typed):
    with pytest.raises(MobileInvalid) as refused:
        normalise_mobile(typed)
    assert str(refused.value) == MOBILE_INVALID and isinstance(refused.value, HaochapingError)


@pytest.mark.parametrize("prefix", range(10, 20))
def test_the_prefixes_are_13_to_19(prefix):
    assert is_mobile(f"{prefix}012345678") is (prefix >= 13)


def test_the_kiosk_and_the_server_agree():
    from sync_server.contact import ContactInvalid
    from sync_server.contact import normalise_mobile as server_normalise

    for typed in ("13800138000", "+86 199-1234-5678", ""):
        assert server_normalise(typed) == normalise_mobile(typed)
    for typed in ("12800138000", "1380013800"):
        with pytest.raises(MobileInvalid):
            normalise_mobile(typed)
        with pytest.raises(ContactInvalid):
            server_normalise(typed)


def test_masking():
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile("123") == "****"
    line = 'push refused: {"mobile": "13800138000"} seq 13800 case 2026112700001 tel 19912345678.'
    assert mask_mobiles(line) == 'push refused: {"mobile": "138****8000"} seq 13800 case 2026112700001 tel 199****5678.'


def test_the_kiosk_log_file_never_holds_a_number_in_full(tmp_path):
    from kiosk.logs import configure_logs

    handler = configure_logs(tmp_path)
    log = logging.getLogger("kiosk.test.mask")
    try:
        log.warning("server refused the record %s", {"detail": {"mobile": "13800138000"}})
        try:
            raise ValueError("bad number 19912345678")
        except ValueError:
            log.exception("while sending")
    finally:
        for name in ("", "kivy"):
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "logs" / "kiosk.log").read_text(encoding="utf-8")
    assert "13800138000" not in text and "19912345678" not in text
    assert "138****8000" in text and "199****5678" in text
