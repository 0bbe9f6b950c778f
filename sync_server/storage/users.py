"""Console users, their sessions and the sign-in attempts the throttle counts.

Only a hash of a session's cookie value is stored (``id_hash``); the callers hash it. Nothing here is ever deleted:
a user is disabled, a session ended.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, and_, func, select, update

from sync_server.storage.schema import login_attempts, sessions, users


def username_taken(conn: Connection, username: str) -> bool:
    return conn.execute(select(users.c.id).where(users.c.username == username)).first() is not None


def insert_user(
    conn: Connection, username: str, password_hash: str, role: str, department: str | None, created_at: str
) -> int:
    return conn.execute(
        users.insert().values(
            username=username,
            password_hash=password_hash,
            role=role,
            department=department,
            created_at=created_at,
        )
    ).inserted_primary_key[0]


def mark_disabled(conn: Connection, username: str, at: str) -> bool:
    """Disable an enabled user; False when there is no such enabled user."""
    return bool(
        conn.execute(
            update(users).where(users.c.username == username, users.c.disabled_at.is_(None)).values(disabled_at=at)
        ).rowcount
    )


def enabled_user(conn: Connection, username: str) -> Row | None:
    return conn.execute(select(users).where(users.c.username == username, users.c.disabled_at.is_(None))).first()


def all_users(conn: Connection) -> list[Row]:
    """Every user, disabled ones too, in the order they were added."""
    return conn.execute(select(users).order_by(users.c.id)).all()


def failures_since(conn: Connection, column: str, value: str, since: str) -> int:
    """Failed sign-ins since ``since`` for one user name (``column`` "username") or one address ("address")."""
    col = login_attempts.c[column]
    return conn.execute(
        select(func.count()).where(col == value, login_attempts.c.at >= since, login_attempts.c.ok == 0)
    ).scalar_one()


def record_attempt(conn: Connection, username: str, address: str, at: str, ok: bool) -> None:
    conn.execute(login_attempts.insert().values(username=username, address=address, at=at, ok=1 if ok else 0))


def open_session(conn: Connection, id_hash: str, user_id: int, csrf_token: str, at: str, address: str) -> None:
    conn.execute(
        sessions.insert().values(
            id_hash=id_hash, user_id=user_id, csrf_token=csrf_token, created_at=at, last_seen_at=at, address=address
        )
    )


def end_session(conn: Connection, id_hash: str, at: str) -> None:
    conn.execute(update(sessions).where(sessions.c.id_hash == id_hash).values(ended_at=at))


def live_session(conn: Connection, id_hash: str, idle_since: str) -> Row | None:
    """The session with its user's name, role and department: not ended, seen since ``idle_since``, user enabled."""
    return conn.execute(
        select(sessions, users.c.username, users.c.role, users.c.department)
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            and_(
                sessions.c.id_hash == id_hash,
                sessions.c.ended_at.is_(None),
                sessions.c.last_seen_at >= idle_since,
                users.c.disabled_at.is_(None),
            )
        )
    ).first()


def touch_session(conn: Connection, id_hash: str, at: str) -> None:
    conn.execute(update(sessions).where(sessions.c.id_hash == id_hash).values(last_seen_at=at))
