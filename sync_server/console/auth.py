"""Console users, sessions, CSRF, sign-in throttling and the audit log; ``require_user`` guards every page.

Roles: ``admin`` (大厅管理员, the whole hall), ``reviewer`` (部门, one department), ``supervisor`` (督查, read-only
across halls). Every console route takes ``viewer: Viewer = Depends(require_user(...))``; every query takes
``viewer.scope`` so a reviewer's pages, lists and exports hold nothing of another department.

Sessions live in the database (only a hash of the cookie value is stored), so several server processes share
them. Failed sign-ins are stored too: throttling holds across processes and restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import Connection, and_, func, select, update

from sync_server.console.errors import BadCredentials, BadInput, CsrfRefused, RoleForbidden, SignInRequired, Throttled
from sync_server.console.settings import ConsoleSettings
from sync_server.db import Store
from sync_server.storage.auditlog import append_entry
from sync_server.storage.schema import login_attempts, sessions, users, utc_iso

ADMIN, REVIEWER, SUPERVISOR = "admin", "reviewer", "supervisor"
ROLES = {ADMIN: "大厅管理员", REVIEWER: "部门审核员", SUPERVISOR: "督查"}
ANY_ROLE = (ADMIN, REVIEWER, SUPERVISOR)
SESSION_COOKIE = "hcp_console"
LOGIN_CSRF_COOKIE = "hcp_login_csrf"
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
    from sqlalchemy import func

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

    def sees_contact_of(self, window_department: str | None) -> bool:
        """Contact data is shown to those who must call back: admins and the record's own department."""
        if self.role == ADMIN:
            return True
        return self.role == REVIEWER and window_department is not None and window_department == self.department


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
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise BadInput(f"用户名“{username}”已存在", field="username")
        user_id = conn.execute(
            users.insert().values(
                username=username,
                password_hash=hash_password(password),
                role=role,
                department=department or None,
                created_at=utc_iso(now),
            )
        ).inserted_primary_key[0]
        write_audit(conn, now, actor, "user.add", username, {"role": role, "department": department}, address)
    return user_id


def disable_user(store: Store, username: str, now: datetime, actor: str, address: str | None = None) -> None:
    """Disable a user (audited): sign-in and every open session stop working at once. Nothing is deleted."""
    with store.write() as conn:
        done = conn.execute(
            update(users)
            .where(users.c.username == username, users.c.disabled_at.is_(None))
            .values(disabled_at=utc_iso(now))
        ).rowcount
        if not done:
            raise BadInput(f"没有可停用的用户 {username}")
        write_audit(conn, now, actor, "user.disable", username, None, address)


write_audit = append_entry  # the console's name for the audit log's one writer


# ---------------------------------------------------------------- sign-in and sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_throttle(conn: Connection, username: str, address: str, now: datetime, settings: ConsoleSettings) -> None:
    since = utc_iso(now - timedelta(seconds=settings.throttle_window_s))
    for column, value, limit in (
        (login_attempts.c.username, username, settings.max_failures_per_user),
        (login_attempts.c.address, address, settings.max_failures_per_address),
    ):
        failures = conn.execute(
            select(func.count()).where(column == value, login_attempts.c.at >= since, login_attempts.c.ok == 0)
        ).scalar_one()
        if failures >= limit:
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
        user = conn.execute(select(users).where(users.c.username == username, users.c.disabled_at.is_(None))).first()
    if user is None:
        verify_password(_DUMMY_HASH, password)  # the same work as for a real user: no timing hint
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        with store.write() as conn:  # committed before refusing: the throttle counts it
            conn.execute(login_attempts.insert().values(username=username, address=address, at=utc_iso(now), ok=0))
            write_audit(conn, now, username or "-", "signin.failed", username, None, address)
        raise BadCredentials("用户名或密码不正确")
    with store.write() as conn:
        conn.execute(login_attempts.insert().values(username=username, address=address, at=utc_iso(now), ok=1))
        token = secrets.token_urlsafe(32)
        conn.execute(
            sessions.insert().values(
                id_hash=_digest(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=utc_iso(now),
                last_seen_at=utc_iso(now),
                address=address,
            )
        )
        write_audit(conn, now, username, "signin", username, {"role": user.role}, address)
    return token


def sign_out(store: Store, token: str, viewer: Viewer, now: datetime, address: str | None) -> None:
    with store.write() as conn:
        conn.execute(update(sessions).where(sessions.c.id_hash == _digest(token)).values(ended_at=utc_iso(now)))
        write_audit(conn, now, viewer.username, "signout", viewer.username, None, address)


def load_viewer(store: Store, token: str | None, now: datetime, settings: ConsoleSettings, hall) -> Viewer:
    """The viewer of a session cookie; ``SignInRequired`` when missing, ended, idle too long or disabled."""
    if not token:
        raise SignInRequired("请先登录")
    idle_since = utc_iso(now - timedelta(seconds=settings.session_idle_s))
    with store.read() as conn:
        row = conn.execute(
            select(sessions, users.c.username, users.c.role, users.c.department)
            .join(users, users.c.id == sessions.c.user_id)
            .where(
                and_(
                    sessions.c.id_hash == _digest(token),
                    sessions.c.ended_at.is_(None),
                    sessions.c.last_seen_at >= idle_since,
                    users.c.disabled_at.is_(None),
                )
            )
        ).first()
    if row is None:
        raise SignInRequired("登录已过期，请重新登录")
    if row.last_seen_at < utc_iso(now - timedelta(seconds=settings.session_touch_s)):
        with store.write() as conn:
            conn.execute(update(sessions).where(sessions.c.id_hash == row.id_hash).values(last_seen_at=utc_iso(now)))
    scope = scope_for(row.role, row.department, hall)
    return Viewer(row.user_id, row.username, row.role, row.department, row.csrf_token, scope)


def audit_refusal(request: Request, viewer: Viewer, reason: str) -> None:
    """Log a refused attempt by a signed-in user (role, department scope, four-eyes, CSRF) in the audit log."""
    app = request.app
    detail, address = {"reason": reason, "method": request.method}, client_address(request)
    with app.state.store.write() as conn:
        write_audit(conn, app.state.clock(), viewer.username, "refused", request.url.path, detail, address)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ---------------------------------------------------------------- the dependency every console route uses


def require_user(*roles: str) -> Callable[[Request], Viewer]:
    """A FastAPI dependency: the signed-in ``Viewer`` whose role is one of ``roles`` (all roles when empty).

    For POST requests it also checks the form's ``csrf_token`` against the session's token (403 otherwise).
    """
    allowed = roles or ANY_ROLE

    async def dependency(request: Request) -> Viewer:
        from sync_server.console.context import console_settings, current_hall

        app = request.app
        viewer = load_viewer(
            app.state.store,
            request.cookies.get(SESSION_COOKIE),
            app.state.clock(),
            console_settings(app),
            current_hall(app),
        )
        request.state.viewer = viewer  # before the checks: a refusal is logged under this user
        if viewer.role not in allowed:
            raise RoleForbidden("您的角色无权访问此页面")
        if request.method == "POST":
            form = await request.form()
            if not hmac.compare_digest(str(form.get("csrf_token", "")), viewer.csrf_token):
                raise CsrfRefused("表单已失效或来源不明（CSRF 校验失败），请刷新页面后重试")
        request.state.viewer = viewer
        return viewer

    return dependency


# Annotated shortcuts for route signatures: ``viewer: AnyUser`` etc.
AnyUser = Annotated[Viewer, Depends(require_user())]
AdminUser = Annotated[Viewer, Depends(require_user(ADMIN))]
OverseerUser = Annotated[Viewer, Depends(require_user(ADMIN, SUPERVISOR))]
