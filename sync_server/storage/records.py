"""Storage of records: the stored row of a record (device, phone or default), inserting a batch once whatever
races it, what a device's batch needs to know about its sequence, integrity flags and conflicting copies."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, select

from haochaping.chain import record_hash
from sync_server.db import Store
from sync_server.storage.bulk import execute_many, positional_sql, select_in
from sync_server.storage.schema import integrity_flags, received_ratings, record_conflicts, records

ROW_FIELDS = (
    "id",
    "device_id",
    "seq",
    "kind",
    "window",
    "clerk_no",
    "case_no",
    "matter_code",
    "level",
    "reasons_version",
    "comment",
    "channel",
    "prompted_at",
    "occurred_at",
    "prev_hash",
    "hash",
)


COLUMNS = tuple(c.name for c in records.columns)  # a row's values in this order (``record_values``)
_REASONS_JSON = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps(..., ensure_ascii=False) makes one a call
_DETAIL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def record_values(
    rec: dict, source: str, received_at: str, batch_id: str, flags: str = "", content_hash: str | None = None
) -> tuple:
    """The ``records`` row of a record as received, its values in ``COLUMNS`` order (the table's)."""
    get = rec.get
    return (
        get("id"),
        get("device_id"),
        get("seq"),
        get("kind"),
        get("window"),
        get("clerk_no"),
        get("case_no"),
        get("matter_code"),
        get("level"),
        reasons_json(get("reasons")),
        get("reasons_version"),
        get("comment"),
        get("channel"),
        get("prompted_at"),
        get("occurred_at"),
        detail_json(get("detail")),
        get("prev_hash"),
        get("hash"),
        content_hash or record_hash(rec),
        source,
        received_at,
        batch_id,
        flags,
    )


_VALUE_NAMES = (*ROW_FIELDS[:9], "reasons", *ROW_FIELDS[9:14], "detail", *ROW_FIELDS[14:])
_VALUE_NAMES += ("content_hash", "source", "received_at", "batch_id", "flags")
assert _VALUE_NAMES == COLUMNS, f"record_values is out of step with the records table: {COLUMNS}"


def record_row(
    rec: dict, source: str, received_at: str, batch_id: str, flags: str = "", content_hash: str | None = None
) -> dict:
    """The ``records`` row of a record as received."""
    return dict(zip(COLUMNS, record_values(rec, source, received_at, batch_id, flags, content_hash), strict=True))


def reasons_json(reasons) -> str:
    """The stored JSON of a record's reason codes, as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    if not reasons:
        return "[]"
    if type(reasons) is list and all(type(c) is int for c in reasons):  # the usual one or two codes: no encoder needed
        return "[" + ", ".join(map(str, reasons)) + "]"
    return _REASONS_JSON.encode(reasons)


def detail_json(detail) -> str:
    """The stored JSON of a record's detail, keys sorted, as ``json.dumps(..., ensure_ascii=False, sort_keys=True)``
    writes it."""
    return _DETAIL_JSON.encode(detail) if detail else "{}"


def insert_records(store: Store, conn: Connection, rows: list[dict]) -> set[str]:
    """Insert rows whose id is not stored yet (another transaction's copy wins); the ids this call stored."""
    if not rows:
        return set()
    stmt = store.insert(records).on_conflict_do_nothing(index_elements=["id"]).returning(records.c.id)
    stored = {r.id for r in conn.execute(stmt, rows)}
    count_received(store, conn, [r for r in rows if r["id"] in stored and r.get("kind") == "rating"])
    return stored


def count_received(store: Store, conn: Connection, rating_rows: Sequence[dict]) -> None:
    """Add newly stored ratings to ``received_ratings`` (per terminal and source), in the caller's transaction;
    rows in key order, so that two processes never wait on each other's rows crosswise."""
    _add_received(store, conn, Counter((r["device_id"], r["source"]) for r in rating_rows))


def _add_received(store: Store, conn: Connection, counts: Counter) -> None:
    for (device_id, source), n in sorted(counts.items()):
        stmt = store.insert(received_ratings).values(device_id=device_id, source=source, n=n)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["device_id", "source"], set_={"n": received_ratings.c.n + n})
        )


def received_by_source(conn: Connection) -> dict[str, int]:
    """Ratings received so far, by source (device, qr, default): one row per terminal and source is read."""
    totals: Counter = Counter()
    for source, n in conn.execute(select(received_ratings.c.source, received_ratings.c.n)):
        totals[source] += n
    return dict(totals)


def insert_batch(store: Store, conn: Connection, rows: Sequence[tuple], batch_id: str) -> set[str]:
    """Insert one ingest's rows (``record_values`` tuples, all of ``batch_id``, an id unique to this ingest) whose id
    is not stored yet: another transaction's copy wins. The ids this call stored. One ``executemany``; when it
    stored fewer rows than it was given (a race on PostgreSQL), the stored rows' batch id tells which are ours."""
    if not rows:
        return set()
    new_only = lambda: store.insert(records).on_conflict_do_nothing(index_elements=["id"])  # noqa: E731
    sql = positional_sql(conn, "records.insert_batch", new_only, COLUMNS)
    ids = [r[0] for r in rows]
    if execute_many(conn, sql, rows) == len(rows):
        mine = set(ids)
    else:
        mine = set()
        for i in range(0, len(ids), 500):
            query = select(records.c.id).where(records.c.id.in_(ids[i : i + 500]), records.c.batch_id == batch_id)
            mine |= {r.id for r in conn.execute(query)}
    kind, device, source = COLUMNS.index("kind"), COLUMNS.index("device_id"), COLUMNS.index("source")
    counts = Counter((r[device], r[source]) for r in rows if r[kind] == "rating" and r[0] in mine)
    _add_received(store, conn, counts)
    return mine


def identities(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """id -> (claimed hash, content hash) of the stored records among ``ids``."""
    rows = select_in(conn, "records.identities", _identities_query, list(ids))
    return {r.id: (r.hash, r.content_hash) for r in rows}


def device_sequence(conn: Connection, device_id: str, seqs: set[int]) -> list:
    """(seq, id, hash, occurred_at) of a device's stored records with these sequence numbers, oldest first."""
    return select_in(conn, "records.device_sequence", _device_sequence_query, sorted(seqs), device_id=device_id)


def _identities_query():  # built once per dialect by ``select_in``
    return select(records.c.id, records.c.hash, records.c.content_hash).where(
        records.c.id.in_(bindparam("ids", expanding=True))
    )


def _device_sequence_query():
    return (
        select(records.c.seq, records.c.id, records.c.hash, records.c.occurred_at)
        .where(records.c.device_id == bindparam("device_id"), records.c.seq.in_(bindparam("seqs", expanding=True)))
        .order_by(records.c.received_at)
    )


def add_flags(conn: Connection, rows: Sequence[dict]) -> None:
    if rows:
        conn.execute(integrity_flags.insert(), list(rows))


def add_conflicts(conn: Connection, conflicts: Sequence[dict], now_iso: str) -> None:
    """Keep each conflicting copy as received, beside the record that holds its id."""
    rows = [
        dict(
            record_id=r["id"],
            device_id=r["device_id"],
            hash=r["hash"],
            content=json.dumps(r, ensure_ascii=False, sort_keys=True),
            received_at=now_iso,
        )
        for r in conflicts
    ]
    if rows:
        conn.execute(record_conflicts.insert(), rows)


def flag_two_channels(conn: Connection, pairs: Sequence[tuple]) -> None:
    """Flag both ratings of a case rated at the kiosk and by phone within one live prompt (``two_channels``), once
    each. ``pairs`` are (kiosk rating, phone rating) facts with ``record_id``, ``case_no``, ``prompted_at`` and
    ``received_at``."""
    for kiosk, phone in pairs:
        detail = f"办件 {kiosk.case_no}：评价器提示期间另有手机扫码评价；评价器上的评价计入，手机评价作为追评"
        at = max(kiosk.received_at, phone.received_at)
        for fact in (kiosk, phone):
            seen = select(integrity_flags.c.id).where(
                integrity_flags.c.record_id == fact.record_id, integrity_flags.c.kind == "two_channels"
            )
            if conn.execute(seen.limit(1)).first() is not None:
                continue
            row = conn.execute(select(records.c.device_id, records.c.seq).where(records.c.id == fact.record_id)).first()
            conn.execute(
                integrity_flags.insert().values(
                    device_id=row.device_id,
                    seq=row.seq,
                    record_id=fact.record_id,
                    kind="two_channels",
                    detail=detail,
                    flagged_at=at,
                )
            )


def record_by_id(conn: Connection, record_id: str):
    """The stored row of one record, or None."""
    return conn.execute(select(records).where(records.c.id == record_id)).first()
