"""The citizen's mobile number for 核实 and 回访: checked, masked, encrypted with the settings file's key."""

from __future__ import annotations

import pytest

from haochaping.errors import HaochapingError
from sync_server.contact import ContactCipher, ContactInvalid, ContactUnreadable, mask_mobile, normalise_mobile


@pytest.mark.parametrize(
    ("typed", "number"),
    [("13812341234", "13812341234"), (" 138-1234-1234 ", "13812341234"), ("+8619912345678", "19912345678"), ("", None)],
)
def test_a_mainland_mobile_number_is_accepted_and_an_empty_field_is_skipped(typed, number):
    assert normalise_mobile(typed) == number


@pytest.mark.parametrize("typed", ["1381234123", "138123412345", "12812341234", "0771-1234567", "abcdefghijk"])
def test_a_bad_number_gets_a_clear_message(typed):
    with pytest.raises(ContactInvalid, match="11 位数字") as bad:
        normalise_mobile(typed)
    assert isinstance(bad.value, HaochapingError) and "可以不填" in str(bad.value)


def test_the_number_is_shown_masked():
    assert mask_mobile("13812341234") == "138****1234"


def test_the_stored_number_is_encrypted_and_only_the_right_key_reads_it():
    key = ContactCipher.new_key()
    cipher = ContactCipher(key)
    token = cipher.encrypt("13812341234")
    assert "13812341234" not in token and "1234" not in token
    assert cipher.encrypt("13812341234") != token  # a fresh IV each time: equal numbers do not look equal
    assert ContactCipher(key).decrypt(token) == "13812341234"
    with pytest.raises(ContactUnreadable):
        ContactCipher(ContactCipher.new_key()).decrypt(token)
    with pytest.raises(ContactUnreadable, match="密钥无效"):
        ContactCipher("not-a-key")
