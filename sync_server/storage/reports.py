"""Reads behind the 通报 report and the GB/T 39046 表9 export: ratings with their record, filtered by the
ratings list's conditions (``storage.ratings_list.conditions``), in time order."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Row, and_, or_, select

from sync_server.storage.cases import true_window
from sync_server.storage.contacts import masked_contact
from sync_server.storage.ratings_list import excluded_flag
from sync_server.storage.rollups import counted_window
from sync_server.storage.schema import cases, ratings, records


def counting_ratings(conn: Connection, where: list) -> Iterator[Row]:
    """Every record column plus ``excluded`` and ``true_window`` (the window it counts for: the enrolled one of a
    ``window_mismatch`` record) of the counting ratings matching ``where``, oldest first."""
    query = (
        select(records, excluded_flag(), true_window().label("true_window"))
        .select_from(records.join(ratings, ratings.c.record_id == records.c.id))
        .where(*where, ratings.c.role == "counting")
        .order_by(records.c.occurred_at)
    )
    yield from conn.execute(query)


def gbt_page(conn: Connection, where: list, after: tuple[str, str] | None, limit: int) -> list[Row]:
    """Up to ``limit`` counting ratings and 追评 matching ``where``, after (occurred_at, id) ``after``, oldest first,
    with the fields of the 表9 export (the window the rating counts for as ``counted_window``)."""
    page_where = [*where, ratings.c.role.in_(("counting", "follow_up"))]
    if after:
        page_where.append(
            or_(records.c.occurred_at > after[0], and_(records.c.occurred_at == after[0], records.c.id > after[1]))
        )
    return conn.execute(
        select(
            records.c.id,
            records.c.case_no,
            records.c.channel,
            records.c.occurred_at,
            records.c.level,
            records.c.comment,
            records.c.detail,
            records.c.reasons,
            records.c.matter_code,
            masked_contact(records.c.case_no),  # 评价人: the number the citizen left, masked
            counted_window().label("counted_window"),
            ratings.c.assess_number,
            ratings.c.role,
            excluded_flag(),
        )
        .select_from(
            records.join(ratings, ratings.c.record_id == records.c.id).outerjoin(
                cases, cases.c.case_no == records.c.case_no
            )
        )
        .where(*page_where)
        .order_by(records.c.occurred_at, records.c.id)
        .limit(limit)
    ).all()
