"""The per-device record chain: each outbox record carries its sequence number, the previous
record's hash and its own, so the server can tell a record that never arrived or arrived altered."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

GENESIS_HASH = "0" * 64

# The fields every record carries, in the order they are documented; the hash covers all but "hash".
RECORD_FIELDS = (
    "id",
    "seq",
    "kind",
    "device_id",
    "window",
    "clerk_no",
    "case_no",
    "matter_code",
    "level",
    "reasons",
    "reasons_version",
    "comment",
    "channel",
    "prompted_at",
    "occurred_at",
    "detail",
    "prev_hash",
    "hash",
)

KINDS = (
    "prompt",  # a case was closed and the citizen was asked to rate
    "rating",  # the citizen rated at the window
    "timeout",  # 未评价，已超时: the prompt was not answered in time
    "interrupted",  # 未评价，已中断: the terminal died (power cut, crash) with the prompt on screen; noticed at start
    "phone_rated",  # 已收到您的手机评价: the server said the case was rated by phone while its prompt was on screen
    "prompt_refused",  # a trigger was refused (too soon after the previous prompt)
    "contact",  # the mobile number a citizen left after a bad rating (detail: mobile, rating = the rating's id)
    "sign_in",
    "sign_out",
    "pause",
    "resume",
)


HASHED_FIELDS = tuple(k for k in RECORD_FIELDS if k != "hash")
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # made once


_ALL_FIELDS = frozenset(RECORD_FIELDS)


def canonical(record: Mapping) -> bytes:
    """The bytes that are hashed: every field but ``hash``, keys sorted, compact UTF-8 JSON."""
    if isinstance(record, dict) and record.keys() == _ALL_FIELDS:  # a record as sent: copy it whole
        body = dict(record)
        del body["hash"]
    else:
        get = record.get
        body = {k: get(k) for k in HASHED_FIELDS}
    return _CANONICAL_JSON.encode(body).encode()


def record_hash(record: Mapping) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def first_break(records: Iterable[Mapping], prev_hash: str = GENESIS_HASH, expect_seq: int = 1) -> int | None:
    """The sequence number of the first record that breaks the chain, or None if it holds.

    A break is a missing sequence number, a ``prev_hash`` that does not match, or a ``hash`` that
    does not match the record's content.
    """
    for rec in records:
        if rec["seq"] != expect_seq or rec["prev_hash"] != prev_hash:
            return expect_seq
        if record_hash(rec) != rec["hash"]:
            return rec["seq"]
        prev_hash, expect_seq = rec["hash"], expect_seq + 1
    return None
