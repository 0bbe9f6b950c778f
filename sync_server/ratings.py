"""One counting rating per case: when several ratings exist (kiosk and phone, or a default), the earliest real
rating counts (assessNumber 1), the next one is the 追评 (assessNumber 2) where the rules allow it, and every
other one is kept as superseded. A default rating (channel 0, 系统默认评价) only counts when nothing else exists.

Every stored record that tells about a case (prompt, timeout, rating from a terminal, the phone page or a default)
goes through ``settle_records``: one pass per batch completes the case rows and settles the roles, then the
after-settlement hooks the application wired at start-up (``set_after_settlement``: the rollups, the 差评工单) run
in the same transaction. This module imports neither the console nor the workflow.

A citizen standing at the kiosk is never out-voted by a phone rating made during the same live prompt: a phone
rating made after the kiosk's prompt and before the kiosk's rating of the case is ordered after the kiosk's (it
becomes the 追评), and both are flagged ``two_channels`` for integrity review. After the prompt has ended the first
rating counts, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from haochaping.chain import record_hash
from haochaping.levels import CHANNEL_DEFAULT, CHANNEL_QR
from sync_server.configs import current_config, current_rules
from sync_server.db import Store
from sync_server.errors import NotConfigured, NotWired
from sync_server.storage.cases import (
    CASE_FIELDS,
    CaseState,
    Settlement,
    StoredRating,
    cases_due_default,
    load_cases,
    lock_cases,
    save_case_rows,
    save_roles,
)
from sync_server.storage.records import flag_two_channels, insert_records, record_row
from sync_server.storage.schema import utc_iso

COUNTING, FOLLOW_UP, SUPERSEDED = "counting", "follow_up", "superseded"
CASE_KINDS = ("prompt", "timeout", "interrupted", "phone_rated", "rating")


@dataclass(frozen=True)
class RatingFact:
    record_id: str
    case_no: str
    level: int
    channel: int | None
    rated_at: str
    received_at: str
    prompted_at: str | None = None  # a kiosk rating's prompt: from then until the rating the prompt was live


KIOSK_CHANNELS = (4, 5)  # 政务大厅平板电脑, 政务大厅其他终端


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def live_prompt_pairs(facts: Iterable[RatingFact]) -> list[tuple[RatingFact, RatingFact]]:
    """(kiosk rating, phone rating) of one case where the phone rating was made while the kiosk's prompt was live:
    after the kiosk prompted, before the citizen's tap was stored (pure)."""
    facts = list(facts)
    kiosk = [f for f in facts if f.channel in KIOSK_CHANNELS and f.prompted_at]
    phone = [f for f in facts if f.channel == CHANNEL_QR]
    return [
        (k, p) for k in kiosk for p in phone if _moment(k.prompted_at) <= _moment(p.rated_at) <= _moment(k.rated_at)
    ]


def _order_key(fact: RatingFact, behind: dict[str, RatingFact]) -> tuple:
    kiosk = behind.get(fact.record_id)
    at, after = (_moment(kiosk.rated_at), 1) if kiosk else (_moment(fact.rated_at), 0)
    return (fact.channel == CHANNEL_DEFAULT, at, after, fact.received_at, fact.record_id)


def settle(facts: Iterable[RatingFact], follow_up_allowed: bool) -> dict[str, tuple[str, int | None]]:
    """Role and assessNumber of each rating of ONE case (pure)."""
    facts = list(facts)
    behind = {phone.record_id: kiosk for kiosk, phone in live_prompt_pairs(facts)}
    roles: dict[str, tuple[str, int | None]] = {}
    real_seen = 0
    for fact in sorted(facts, key=lambda f: _order_key(f, behind)):
        is_default = fact.channel == CHANNEL_DEFAULT
        if not roles:
            roles[fact.record_id] = (COUNTING, 1)
        elif not is_default and real_seen == 1 and follow_up_allowed:
            roles[fact.record_id] = (FOLLOW_UP, 2)
        else:
            roles[fact.record_id] = (SUPERSEDED, None)
        real_seen += 0 if is_default else 1
    return roles


AfterSettlement = Callable[[Store, Connection, Settlement], None]
_hooks: list[AfterSettlement] | None = None


def set_after_settlement(hooks: Iterable[AfterSettlement]) -> None:
    """What runs after every settling pass, in order; the application wires it at start-up."""
    global _hooks
    _hooks = list(hooks)


def settle_records(store: Store, conn: Connection, stored: Iterable[dict]) -> Settlement | None:
    """Complete the cases these newly stored records tell about and settle their ratings, in ONE pass inside the
    caller's transaction: the cases are locked and read once, case rows and roles written, then the hooks run."""
    stored = [r for r in stored if r.get("case_no") and r["kind"] in CASE_KINDS]
    if not stored:
        return None
    if _hooks is None:
        raise NotWired("服务端未完成启动配置：评价落定后的处理（统计、差评工单）未接入")
    case_nos = {r["case_no"] for r in stored}
    lock_cases(conn, case_nos)
    before = load_cases(conn, case_nos)
    after_rows = _completed_rows(before, stored)
    save_case_rows(store, conn, [(c, row) for c, row in after_rows.items() if row != before[c].row])
    follow_up = current_rules(conn).follow_up_allowed
    after, changed = {}, []
    for case_no, state in before.items():
        settled = _settled(state.ratings, follow_up)
        if len(settled) > 1:
            flag_two_channels(conn, live_prompt_pairs(_facts(settled)))
        changed += [
            r
            for r, old in zip(settled, state.ratings, strict=True)
            if r.role != old.role or r.assess_number != old.assess_number
        ]
        after[case_no] = CaseState(case_no, after_rows[case_no], settled)
    save_roles(store, conn, changed)
    rated = frozenset(r["case_no"] for r in stored if r["kind"] == "rating")
    settlement = Settlement(before, after, rated)
    for hook in _hooks:
        hook(store, conn, settlement)
    return settlement


def _completed_rows(before: dict[str, CaseState], records: list[dict]) -> dict[str, dict | None]:
    """Each case's row once these records are in: a field already set is kept (as ``save_case_rows`` does)."""
    merged = {c: (dict(s.row) if s.row else None) for c, s in before.items()}
    for record in records:
        values = case_values(record)
        into = merged[record["case_no"]]
        if into is None:
            merged[record["case_no"]] = dict(zip(CASE_FIELDS, values, strict=True))
            continue
        for key, value in zip(CASE_FIELDS, values, strict=True):
            if into[key] is None:
                into[key] = value
    return merged


def _facts(stored: Iterable[StoredRating]) -> list[RatingFact]:
    return [
        RatingFact(
            r.record_id,
            r.case_no,
            r.level,
            r.channel,
            r.rated_at,
            r.received_at,
            r.prompted_at if r.source == "device" else None,
        )
        for r in stored
    ]


def _settled(stored: tuple[StoredRating, ...], follow_up: bool) -> tuple[StoredRating, ...]:
    if len(stored) == 1:  # the usual case: its one rating counts (what ``settle`` makes of a single fact)
        only = stored[0]
        if only.role == COUNTING and only.assess_number == 1:
            return stored
        return (_with_role(only, COUNTING, 1),)
    facts = _facts(stored)
    roles = settle(facts, follow_up) if facts else {}
    return tuple(_with_role(r, *roles[r.record_id]) for r in stored)


_ROLE_AT = StoredRating._fields.index("role")
assert StoredRating._fields[_ROLE_AT + 1] == "assess_number", "_with_role sets role and assess_number side by side"


def _with_role(rating: StoredRating, role: str, assess_number: int | None) -> StoredRating:
    """``rating._replace(role=..., assess_number=...)`` at a fraction of its cost: settling does it once per rating
    of every case a batch touches."""
    return StoredRating._make((*rating[:_ROLE_AT], role, assess_number, *rating[_ROLE_AT + 2 :]))


def case_values(record: dict) -> tuple:
    """What a record tells about its case, in ``CASE_FIELDS`` order."""
    get = record.get
    prompted_at = get("prompted_at") or record["occurred_at"]
    return (get("window"), get("device_id"), get("matter_code"), get("clerk_no"), prompted_at)


# ---------------------------------------------------------------- default ratings (系统默认评价)


def server_record(**fields) -> dict:
    """A rating the server makes itself (phone or default): no device chain, ``seq`` and ``prev_hash`` empty."""
    rec = {
        "seq": None,
        "prev_hash": None,
        "reasons": [],
        "detail": {},
        "reasons_version": None,
        "comment": None,
        "prompted_at": None,
        "clerk_no": None,
        "matter_code": None,
        "window": None,
    }
    rec.update(fields)
    rec["hash"] = record_hash(rec)
    return rec


def apply_default_ratings(store: Store, now: datetime) -> list[str]:
    """Rate every prompted case still unrated ``default_rating_after_days`` after its prompt with the configured
    default level, as channel 0. Idempotent (the record id is derived from the case). Returns the case numbers.

    A default rating is made at the moment its case became due for one (prompt + N natural days), not when this
    command runs: it counts in the period it belongs to, however late the command runs."""
    with store.write() as conn:
        cv = current_config(conn)
        if cv is None:
            raise NotConfigured("尚未导入大厅配置（hcp server config import）")
        rules = cv.config.rules
        if rules.default_rating == 0:
            return []
        cutoff = utc_iso(now - timedelta(days=rules.default_rating_after_days))
        due = cases_due_default(conn, cutoff)
        store_server_records(store, conn, [_default_record(c, rules, now) for c in due], "default", utc_iso(now))
    return [c.case_no for c in due]


def default_rating_time(prompted_at: str, after_days: int) -> str:
    """When a case unrated since ``prompted_at`` became due for its default rating (UTC ISO)."""
    return utc_iso(datetime.fromisoformat(prompted_at) + timedelta(days=after_days))


def _default_record(case, rules, now: datetime) -> dict:
    return server_record(
        id=f"default:{case.case_no}",
        kind="rating",
        device_id=case.device_id,
        window=case.window,
        clerk_no=case.clerk_no,
        case_no=case.case_no,
        matter_code=case.matter_code,
        level=rules.default_rating,
        channel=CHANNEL_DEFAULT,
        prompted_at=case.prompted_at,
        occurred_at=default_rating_time(case.prompted_at, rules.default_rating_after_days),
        detail={"rule": rules.province, "after_days": rules.default_rating_after_days},
    )


def store_server_records(store: Store, conn: Connection, recs: list[dict], source: str, now_iso: str) -> set[str]:
    """The ingest path of ratings the server makes (phone, default): store each record once (an id already stored
    is left alone) and settle its case, inside the caller's transaction. Returns the ids stored by this call."""
    stored_ids = insert_records(store, conn, [record_row(r, source, now_iso, source) for r in recs])
    settle_records(store, conn, [r for r in recs if r["id"] in stored_ids])
    return stored_ids
