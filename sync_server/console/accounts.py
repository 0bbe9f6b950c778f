"""Console users, sessions, sign-in throttling, roles and department scope (the core; the FastAPI dependency every
console route uses is in ``console/auth.py``).

Roles: ``admin`` (大厅管理员, the whole hall), ``reviewer`` (部门, one department), ``supervisor`` (督查, read-only
across halls). Every query takes ``viewer.scope`` so a reviewer's pages, lists and exports hold nothing of another
department.

Sessions live in the database (only a hash of the cookie value is stored), so several server processes share
them. Failed sign-ins are stored too: throttling holds across processes and restarts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func

from sync_server.console.errors import BadCredentials, BadInput, RoleForbidden, SignInRequired, Throttled
from sync_server.console.settings import ConsoleSettings
from sync_server.db import Store
from sync_server.storage import users as stored
from sync_server.storage.auditlog import append_entry
from sync_server.storage.schema import utc_iso

ADMIN, REVIEWER, SUPERVISOR, REVISITOR = "admin", "reviewer", "supervisor", "revisitor"
ROLES = {ADMIN: "大厅管理员", REVIEWER: "部门审核员", SUPERVISOR: "督查", REVISITOR: "回访员"}
ANY_ROLE = (ADMIN, REVIEWER, SUPERVISOR, REVISITOR)  # 回访员: the hall's 回访 of 差评工单, hall-wide, no department
_HASHER = PasswordHasher()  # argon2id, memory-hard (64 MiB, 3 passes)


# ---------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """What a viewer may see: everything (``department`` None) or one department's windows."""

    department: str | None = None
    windows: frozenset[str] | None = None

    @property
    def restricted(self) -> bool:
        return self.department is not None

    def department_filter(self, requested: str | None) -> str | None:
        """The department a query should use; a reviewer asking for another department is refused."""
        if not self.restricted:
            return requested or None
        if requested and requested != self.department:
            raise RoleForbidden("您只能查看本部门的数据")
        return self.department

    def allows_window(self, window: str | None) -> bool:
        return not self.restricted or (window is not None and window in (self.windows or ()))

    def window_condition(self, column):
        """A WHERE condition on a window column (``True`` for unrestricted scopes)."""
        if not self.restricted:
            return None
        return windows_in(column, self.windows or ())


def windows_in(column, windows) -> object:
    """``column IN (windows)`` written so that SQLite keeps walking the time index in order (an IN over the
    window index would fetch and sort every row of those windows in the period before the first page)."""
    return func.coalesce(column, "").in_(sorted(windows) or ["\x00none"])


def scope_for(role: str, department: str | None, hall) -> Scope:
    """The scope of a role; ``hall`` is the current ``Hall`` config (or None before any import)."""
    if role != REVIEWER:
        return Scope()
    windows = frozenset(w.code for w in hall.windows if w.department == department) if hall else frozenset()
    return Scope(department=department, windows=windows)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request."""

    user_id: int
    username: str
    role: str
    department: str | None
    csrf_token: str
    scope: Scope

    @property
    def role_label(self) -> str:
        return ROLES[self.role]


# ---------------------------------------------------------------- passwords and users


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = hash_password("not-a-real-password")


def add_user(
    store: Store,
    username: str,
    role: str,
    password: str,
    now: datetime,
    actor: str,
    department: str | None = None,
    address: str | None = None,
) -> int:
    """Create a user (audited). A reviewer needs a department; the others must not have one."""
    username = username.strip()
    if not username:
        raise BadInput("请填写用户名", field="username")
    if len(username) > 64:
        raise BadInput("用户名最多 64 个字符", field="username")
    if len(password) < 8:
        raise BadInput("密码至少 8 位", field="password")
    if role not in ROLES:
        raise BadInput(f"未知角色“{role}”，可选：{'、'.join(ROLES.values())}", field="role")
    if role == REVIEWER and not department:
        raise BadInput("部门审核员必须指定部门", field="department")
    if role != REVIEWER and department:
        raise BadInput(f"{ROLES[role]}可查看全大厅，不能指定部门", field="department")
    with store.write() as conn:
        if stored.username_taken(conn, username):
            raise BadInput(f"用户名“{username}”已存在", field="username")
        user_id = stored.insert_user(conn, username, hash_password(password), role, department or None, utc_iso(now))
        write_audit(conn, now, actor, "user.add", username, {"role": role, "department": department}, address)
    return user_id


def disable_user(store: Store, username: str, now: datetime, actor: str, address: str | None = None) -> None:
    """Disable a user (audited): sign-in and every open session stop working at once. Nothing is deleted."""
    with store.write() as conn:
        if not stored.mark_disabled(conn, username, utc_iso(now)):
            raise BadInput(f"没有可停用的用户 {username}")
        write_audit(conn, now, actor, "user.disable", username, None, address)


def list_users(store: Store) -> list:
    """Every user (disabled ones too), in the order they were added."""
    with store.read() as conn:
        return stored.all_users(conn)


write_audit = append_entry  # the console's name for the audit log's one writer


# ---------------------------------------------------------------- sign-in and sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_throttle(conn: Connection, username: str, address: str, now: datetime, settings: ConsoleSettings) -> None:
    since = utc_iso(now - timedelta(seconds=settings.throttle_window_s))
    for column, value, limit in (
        ("username", username, settings.max_failures_per_user),
        ("address", address, settings.max_failures_per_address),
    ):
        if stored.failures_since(conn, column, value, since) >= limit:
            minutes = max(1, settings.throttle_window_s // 60)
            raise Throttled(f"登录失败次数过多，请 {minutes} 分钟后再试", settings.throttle_window_s)


def sign_in(store: Store, username: str, password: str, address: str, now: datetime, settings: ConsoleSettings) -> str:
    """Check the password (after the throttle) and open a session; returns the cookie value."""
    username = username.strip()[:64]
    try:
        with store.read() as conn:
            check_throttle(conn, username, address, now, settings)
    except Throttled:
        with store.write() as conn:  # refused without checking the password: logged, not counted as a failure
            write_audit(conn, now, username or "-", "signin.throttled", username, None, address)
        raise
    with store.read() as conn:
        user = stored.enabled_user(conn, username)
    if user is None:
        verify_password(_DUMMY_HASH, password)  # the same work as for a real user: no timing hint
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        with store.write() as conn:  # committed before refusing: the throttle counts it
            stored.record_attempt(conn, username, address, utc_iso(now), ok=False)
            write_audit(conn, now, username or "-", "signin.failed", username, None, address)
        raise BadCredentials("用户名或密码不正确")
    with store.write() as conn:
        stored.record_attempt(conn, username, address, utc_iso(now), ok=True)
        token = secrets.token_urlsafe(32)
        stored.open_session(conn, _digest(token), user.id, secrets.token_urlsafe(32), utc_iso(now), address)
        write_audit(conn, now, username, "signin", username, {"role": user.role}, address)
    return token


def sign_out(store: Store, token: str, viewer: Viewer, now: datetime, address: str | None) -> None:
    with store.write() as conn:
        stored.end_session(conn, _digest(token), utc_iso(now))
        write_audit(conn, now, viewer.username, "signout", viewer.username, None, address)


def load_viewer(store: Store, token: str | None, now: datetime, settings: ConsoleSettings, hall) -> Viewer:
    """The viewer of a session cookie; ``SignInRequired`` when missing, ended, idle too long or disabled."""
    if not token:
        raise SignInRequired("请先登录")
    idle_since = utc_iso(now - timedelta(seconds=settings.session_idle_s))
    with store.read() as conn:
        row = stored.live_session(conn, _digest(token), idle_since)
    if row is None:
        raise SignInRequired("登录已过期，请重新登录")
    if row.last_seen_at < utc_iso(now - timedelta(seconds=settings.session_touch_s)):
        with store.write() as conn:
            stored.touch_session(conn, row.id_hash, utc_iso(now))
    scope = scope_for(row.role, row.department, hall)
    return Viewer(row.user_id, row.username, row.role, row.department, row.csrf_token, scope)
