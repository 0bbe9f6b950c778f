"""Many rows, one statement, at the driver's speed: the hot writes of ingest (records, cases, ratings, rollups).

A Core statement is compiled once per dialect with positional parameters in a fixed column order and cached; rows
are plain tuples in that order and go straight to the driver's ``executemany``. SQLAlchemy then does no per-row
work (building a parameter dict and processing it is most of the cost of a 500-row batch otherwise). Everything
that is not on ingest's hot path uses Core as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

_compiled: dict[tuple[str, str], str] = {}
_dialects: dict[type, Dialect] = {}
_selects: dict[tuple[str, str], tuple[str, str, tuple]] = {}
_one_row: dict[tuple[str, str], tuple[str, tuple]] = {}  # (SQL, parameter slots)
_VALUES, _NAMED, _CONSTANT = "values", "named", "constant"


def positional_sql(conn: Connection, name: str, build: Callable[[], object], columns: Sequence[str]) -> str:
    """The SQL of the statement ``build()`` makes, for ``conn``'s dialect, taking one positional parameter per
    column of ``columns`` in that order; built and compiled once per (name, dialect)."""
    key = (name, conn.dialect.name)
    sql = _compiled.get(key)
    if sql is None:
        compiled = build().compile(dialect=_positional(conn.dialect), column_keys=list(columns))
        if list(compiled.positiontup or ()) != list(columns):
            raise ValueError(f"{name}: parameters {compiled.positiontup} are not the columns {list(columns)}")
        sql = _compiled[key] = compiled.string
    return sql


def execute_many(conn: Connection, sql: str, rows: Sequence[tuple]) -> int:
    """Run ``sql`` once per row (tuples in the statement's column order); the number of rows it changed, or -1 when
    the driver does not say."""
    if not rows:
        return 0
    return conn.exec_driver_sql(sql, list(rows)).rowcount


def _positional(dialect: Dialect) -> Dialect:
    """A dialect like ``dialect`` whose parameters are positional (SQLite's ``?`` already are; psycopg takes
    ``%s``), to compile with."""
    if dialect.positional:
        return dialect
    kind = type(dialect)
    if kind not in _dialects:
        _dialects[kind] = kind(paramstyle="format")
    return _dialects[kind]


def driver_select_one(store, name: str, build: Callable[[], object], **params) -> tuple | None:
    """The first row of the SELECT ``build()`` makes, run on a driver connection of ``store`` (``Store.driver``)
    with its named parameters from ``params``; compiled once per (name, dialect). For the hottest read only."""
    key = (name, store.engine.dialect.name)
    found = _one_row.get(key)
    if found is None:
        compiled = build().compile(dialect=_positional(store.engine.dialect))
        # each parameter: one the caller names (a bindparam without a value) or the statement's constant
        slots = tuple(
            (_NAMED, p) if compiled.binds[p].required else (_CONSTANT, compiled.binds[p].effective_value)
            for p in compiled.positiontup or ()
        )
        found = _one_row[key] = (compiled.string, slots)
    sql, slots = found
    args = tuple(params[what] if kind is _NAMED else what for kind, what in slots)
    with store.driver() as raw:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, args)
            return cursor.fetchone()
        finally:
            cursor.close()


def select_in(conn: Connection, name: str, build: Callable[[], object], values: Sequence, **params) -> list:
    """The rows of the SELECT ``build()`` makes, whose one expanding parameter (``bindparam(..., expanding=True)``)
    takes ``values`` and whose other parameters are ``params``; compiled once per (name, dialect), the IN list
    written by hand (SQLAlchemy would render and name each of its members on every call). Plain rows: a column
    SQLAlchemy would convert on the way out (a boolean on SQLite) comes back as the driver gives it."""
    if not values:
        return []
    key = (name, conn.dialect.name)
    found = _selects.get(key)
    if found is None:
        compiled = build().compile(dialect=_positional(conn.dialect))
        expanding = [p for p in compiled.positiontup if compiled.binds[p].expanding]
        if len(expanding) != 1:
            raise ValueError(f"{name}: wants exactly one expanding parameter, has {expanding}")
        marker = f"__[POSTCOMPILE_{expanding[0]}]"
        head, tail = compiled.string.split(marker)
        # each parameter: the values, one the caller names (a bindparam without a value) or the statement's constant
        slots = tuple(
            (_VALUES, None) if p == expanding[0] else (_NAMED, p) if compiled.binds[p].required else (_CONSTANT, b)
            for p, b in ((p, compiled.binds[p].effective_value) for p in compiled.positiontup)
        )
        found = _selects[key] = (head, tail, slots)
    head, tail, slots = found
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = head + ", ".join([placeholder] * len(values)) + tail
    args: list = []
    for kind, what in slots:
        if kind is _VALUES:
            args.extend(values)
        else:
            args.append(params[what] if kind is _NAMED else what)
    return conn.exec_driver_sql(sql, tuple(args)).all()
