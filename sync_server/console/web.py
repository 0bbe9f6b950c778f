"""The console's web layer: ``install_console(app)`` adds its routes, static files and error pages; sign-in,
sign-out, users and the audit log live here, the data pages in their own modules."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sync_server.console.accounts import ROLES, Viewer, add_user, disable_user, list_users, sign_in, sign_out
from sync_server.console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AdminUser,
    AnyUser,
    audit_refusal,
    client_address,
)
from sync_server.console.context import console_settings
from sync_server.console.errorpages import error_page, workflow_title
from sync_server.console.errors import BadCredentials, BadInput, ConsoleError, SignInRequired, Throttled
from sync_server.console.pages import NAV, SECURITY_HEADERS, STATIC_DIR, TEMPLATES, names_of, page  # noqa: F401
from sync_server.workflow.errors import WorkflowError


def install_console(app: FastAPI) -> None:
    """Add the console to the server app: routes under /console, files under /static, HTML error pages."""
    from sync_server.console import (
        auditview,
        dashboard_view,
        devices_view,
        integrity,
        published_view,
        ratings_view,
        reports,
    )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from sync_server.closedcases import views as closed_case_views
    from sync_server.upstream import views as upstream_views
    from sync_server.workflow import views as workflow_views

    modules = (
        dashboard_view,
        ratings_view,
        integrity,
        devices_view,
        reports,
        published_view,
        workflow_views,
        closed_case_views,
        upstream_views,
    )
    for module in (*modules, auditview):
        app.include_router(module.router())
    app.include_router(_auth_router())
    from sync_server.console import assessment_view

    assessment_view.install(app)  # 考核 and 考勤 pages, and their error page
    from sync_server.console import board_view

    app.include_router(board_view.router())  # the public results board at /board (no sign-in)

    @app.exception_handler(WorkflowError)
    async def _workflow_error(request: Request, exc: WorkflowError):
        viewer = getattr(request.state, "viewer", None)
        if exc.status == 403 and viewer is not None:
            audit_refusal(request, viewer, exc.message)
        return error_page(request, exc.status, exc.message, workflow_title(exc))

    @app.exception_handler(ConsoleError)
    async def _console_error(request: Request, exc: ConsoleError):
        if isinstance(exc, SignInRequired):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)
        viewer = getattr(request.state, "viewer", None)
        if exc.status == 403 and viewer is not None:
            audit_refusal(request, viewer, exc.message)
        response = error_page(request, exc.status, exc.message, exc.title)
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return "/console/dashboard"


def _auth_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("")
    @router.get("/")
    def root():
        return RedirectResponse("/console/dashboard", status_code=303)

    @router.get("/login")
    def login_form(request: Request, next: str | None = None):
        return _login_page(request, next)

    @router.post("/login")
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        csrf_token: str = Form(""),
        next: str = Form(""),
    ):
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, csrf_token):
            return _login_page(request, next, "登录表单已失效，请重新输入", 403)
        app = request.app
        try:
            token = sign_in(
                app.state.store,
                username,
                password,
                client_address(request),
                app.state.clock(),
                console_settings(app),
            )
        except (BadCredentials, Throttled) as e:
            response = _login_page(request, next, e.message, e.status, username=username)
            if isinstance(e, Throttled):
                response.headers["Retry-After"] = str(e.retry_after_s)
            return response
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/", secure=_https(request))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
        return response

    @router.post("/logout")
    def logout(request: Request, viewer: AnyUser):
        app = request.app
        sign_out(
            app.state.store, request.cookies.get(SESSION_COOKIE, ""), viewer, app.state.clock(), client_address(request)
        )
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/users")
    def users_page(request: Request, viewer: AdminUser):
        return _users_page(request, viewer)

    @router.post("/users")
    async def users_add(request: Request, viewer: AdminUser):
        form = await request.form()
        app = request.app
        try:
            add_user(
                app.state.store,
                str(form.get("username", "")),
                str(form.get("role", "")),
                str(form.get("password", "")),
                app.state.clock(),
                viewer.username,
                department=str(form.get("department", "")) or None,
                address=client_address(request),
            )
        except BadInput as e:
            typed = {key: str(form.get(key, "")) for key in ("username", "role", "department")}
            return _users_page(request, viewer, e.message, 400, field=e.field or "form", typed=typed)
        return RedirectResponse("/console/users", status_code=303)

    @router.post("/users/disable")
    async def users_disable(request: Request, viewer: AdminUser):
        form = await request.form()
        username = str(form.get("username", ""))
        if username == viewer.username:
            return _users_page(request, viewer, "不能停用自己的账号", 400)
        try:
            disable_user(
                request.app.state.store, username, request.app.state.clock(), viewer.username, client_address(request)
            )
        except BadInput as e:
            return _users_page(request, viewer, e.message, 400)
        return RedirectResponse("/console/users", status_code=303)

    return router


def _login_page(
    request: Request, next: str | None, message: str = "", status: int = 200, username: str = ""
) -> Response:
    """The sign-in form; after a refusal it says why and keeps the user name (never the password)."""
    token = secrets.token_urlsafe(24)
    context = dict(csrf_token=token, next=next or "", message=message, username=username[:64])
    response = page(request, "login.html", None, status, **context)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console/login", secure=_https(request)
    )
    return response


def _https(request: Request) -> bool:
    """Cookies are marked Secure when the page came over HTTPS: directly, or through a reverse proxy on this host
    that sends ``X-Forwarded-Proto`` (uvicorn trusts it from 127.0.0.1; see deploy/nginx/hcp.conf)."""
    return request.url.scheme == "https"


def _users_page(
    request: Request, viewer: Viewer, message: str = "", status: int = 200, field: str = "", typed: dict | None = None
) -> Response:
    """The users page; ``field`` set means the new-user form failed there (its message shown at that field)."""
    rows = list_users(request.app.state.store)
    return page(
        request,
        "users.html",
        viewer,
        status,
        users=rows,
        roles=ROLES,
        message="" if field else message,
        field_errors={field: message} if field else {},
        typed=typed or {},
    )
