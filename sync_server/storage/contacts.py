"""Storage of the mobile numbers citizens left after a 差评 (``contacts``): the ciphertext and the masked form, one
row per record that carried a number; what a 差评工单 page, a list, a report or the upload may read (the masked
form only, except ``ciphertext_of`` for the audited reveal); and deletion once the keeping time is over."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update

from sync_server.db import Store
from sync_server.storage.schema import bad_cases, case_events, contacts


@dataclass(frozen=True)
class StoredContact:
    """A number as a page shows it: never the number itself."""

    id: int
    case_no: str
    masked: str
    source: str
    given_at: str
    deleted_at: str | None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


def add_contacts(store: Store, conn: Connection, rows: Sequence[dict]) -> None:
    """Store each row once (a record already stored keeps its row), in the caller's transaction."""
    if rows:
        conn.execute(store.insert(contacts).on_conflict_do_nothing(index_elements=["record_id"]), list(rows))


def contacts_of_case(conn: Connection, case_no: str) -> list[StoredContact]:
    """Every number left for this case, oldest first (deleted ones too: the page says they were deleted)."""
    query = select(*_SHOWN).where(contacts.c.case_no == case_no).order_by(contacts.c.given_at, contacts.c.id)
    return [StoredContact(*row) for row in conn.execute(query)]


_SHOWN = (
    contacts.c.id,
    contacts.c.case_no,
    contacts.c.masked,
    contacts.c.source,
    contacts.c.given_at,
    contacts.c.deleted_at,
)


def masked_by_case(conn: Connection, case_nos: Iterable[str]) -> dict[str, str]:
    """case_no -> the masked number most recently left for it and not deleted (lists, reports, the upload)."""
    wanted = sorted({c for c in case_nos if c})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        query = (
            select(contacts.c.case_no, contacts.c.masked)
            .where(contacts.c.case_no.in_(wanted[start : start + 500]), contacts.c.deleted_at.is_(None))
            .order_by(contacts.c.given_at, contacts.c.id)
        )
        found.update({row.case_no: row.masked for row in conn.execute(query)})
    return found


def masked_contact(case_no_column):
    """A column: the masked number most recently left for the row's case and not deleted (NULL: none), for queries
    that list ratings (the GB/T 39046 export's 评价人, the upload)."""
    return (
        select(contacts.c.masked)
        .where(contacts.c.case_no == case_no_column, contacts.c.deleted_at.is_(None))
        .order_by(contacts.c.given_at.desc(), contacts.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("contact_masked")
    )


def contact_line(conn: Connection, case_no: str | None) -> str:
    """What a page shows for a case's number: the masked one, 已按规定删除, or "" when none was left."""
    left = contacts_of_case(conn, case_no) if case_no else []
    kept = [c for c in left if not c.deleted]
    if kept:
        return kept[-1].masked
    return "已按规定删除" if left else ""


def ciphertext_of(conn: Connection, contact_id: int, case_no: str) -> str | None:
    """The stored ciphertext of one number of this case (None: no such number, or deleted)."""
    query = select(contacts.c.ciphertext).where(contacts.c.id == contact_id, contacts.c.case_no == case_no)
    return conn.execute(query).scalar_one_or_none()


@dataclass(frozen=True)
class KeptContact:
    """A number not deleted yet, with what decides when it goes: its case's 差评工单 (if any) and when it finished."""

    id: int
    case_no: str
    given_at: str
    case_state: str | None
    closed_at: str | None
    last_step_at: str | None


def kept_contacts(conn: Connection) -> list[KeptContact]:
    """Every number not deleted yet, with its case's 差评工单 state, 办结 time and last step time."""
    last_step = (
        select(case_events.c.case_id, func.max(case_events.c.at).label("last_at"))
        .group_by(case_events.c.case_id)
        .subquery()
    )
    query = (
        select(
            contacts.c.id,
            contacts.c.case_no,
            contacts.c.given_at,
            bad_cases.c.state,
            bad_cases.c.closed_at,
            last_step.c.last_at,
        )
        .select_from(
            contacts.outerjoin(bad_cases, bad_cases.c.case_no == contacts.c.case_no).outerjoin(
                last_step, last_step.c.case_id == bad_cases.c.id
            )
        )
        .where(contacts.c.deleted_at.is_(None))
        .order_by(contacts.c.id)
    )
    return [KeptContact(*row) for row in conn.execute(query)]


def delete_numbers(conn: Connection, ids: Sequence[int], now_iso: str) -> int:
    """Delete these numbers (ciphertext and masked form emptied, the dates stay); how many were deleted."""
    deleted = 0
    for start in range(0, len(ids), 500):
        stmt = (
            update(contacts)
            .where(contacts.c.id.in_(list(ids[start : start + 500])), contacts.c.deleted_at.is_(None))
            .values(ciphertext=None, masked="", deleted_at=now_iso)
        )
        deleted += conn.execute(stmt).rowcount
    return deleted
