"""Alembic environment: runs on the connection ``sync_server.db.migrate`` hands over, or on the ini's URL."""

from __future__ import annotations

from alembic import context

from sync_server.db import make_engine
from sync_server.storage.schema import METADATA


def run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as conn:
        _run_on(conn)
        conn.commit()


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
