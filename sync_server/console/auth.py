"""The console's web edge of sign-in: the session cookies, ``require_user`` (the FastAPI dependency every console
route uses, with the CSRF check of every form) and the audit of refused requests.

Users, sessions, roles and department scope themselves are in ``console/accounts.py``; every console route takes
``viewer: Viewer = Depends(require_user(...))`` and passes ``viewer.scope`` to its queries.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from sync_server.console.accounts import ADMIN, ANY_ROLE, SUPERVISOR, Viewer, load_viewer, write_audit
from sync_server.console.errors import CsrfRefused, RoleForbidden

SESSION_COOKIE = "hcp_console"
LOGIN_CSRF_COOKIE = "hcp_login_csrf"


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
