"""The FastAPI application: the device API, the case-system API and the QR phone page, over one ``Store``.

``create_app(store, clock)`` builds it; the clock is injected so tests can move time. The app keeps no state
of its own: every nonce, code and trigger is in the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from haochaping.signing import HEADER_SERVER_TIME
from sync_server.contact import cipher_of
from sync_server.db import Store
from sync_server.errors import CaseSystemKeyInvalid, ServerError, Unauthorized
from sync_server.observability import CONTENT_TYPE, EventMetrics, ObservabilityMiddleware, metrics_text
from sync_server.schemas import ErrorResponse
from sync_server.settings import ServerSettings, ServerSettingsFile, load_server_settings

Clock = Callable[[], datetime]
RETRY_AFTER_BUSY_S = 2
log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    store: Store,
    clock: Clock = system_clock,
    settings: ServerSettings | None = None,
    settings_file: ServerSettingsFile | None = None,
) -> FastAPI:
    """The app over ``store``. ``settings_file`` (``config/server.toml``) carries every section; ``settings``
    alone sets only the server's own section."""
    from sync_server.api import device_router
    from sync_server.console.web import install_console
    from sync_server.qrpage import qr_router
    from sync_server.wiring import wire_settlement

    wire_settlement()
    if settings_file is not None:
        settings = settings_file.server
    settings = settings or ServerSettings()
    app = FastAPI(title="好差评中心服务", version="1", description="评价器同步、办件系统触发、扫码评价")
    app.state.store, app.state.clock, app.state.settings = store, clock, settings
    app.state.contact_cipher = cipher_of(settings.contact_key)  # None: no key configured, numbers are refused
    if settings_file is not None:
        app.state.console_settings = settings_file.console
        app.state.workflow_settings = settings_file.workflow
        app.state.case_settings = settings_file.cases
        app.state.upstream_settings = settings_file.upstream
    app.include_router(device_router())
    app.include_router(qr_router())
    install_console(app)  # the admin console: /console pages, /static files
    _add_error_handlers(app)
    app.add_middleware(
        EdgeMiddleware, clock=clock, max_body_bytes=settings.max_body_bytes, upload_max_bytes=settings.max_upload_bytes
    )
    app.state.event_metrics = EventMetrics()
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.event_metrics)  # outermost: ids every answer
    _add_ops_routes(app)
    return app


def _add_ops_routes(app: FastAPI) -> None:
    @app.get(
        "/healthz",
        tags=["运维"],
        summary="健康检查：数据库可用时 200，否则 503",
        responses={503: {"model": ErrorResponse, "description": "数据库无法访问"}},
    )
    def healthz():
        try:
            app.state.store.ping()
        except Exception as e:  # noqa: BLE001 - any database failure means unhealthy
            log.error("health check: the database does not answer: %s", e)
            return error_response(503, "数据库无法访问")
        return {"ok": True}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        """Browsers and tools that ask for /favicon.ico get the same icon the pages link to."""
        return FileResponse(Path(__file__).parent / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get(
        "/metrics",
        tags=["运维"],
        summary="Prometheus 指标（文本格式）",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "指标"}},
    )
    def metrics():
        return Response(metrics_text(app), media_type=CONTENT_TYPE)


DB_ENV = "HCP_SERVER_DB"
SETTINGS_ENV = "HCP_SERVER_SETTINGS"


def app_from_environment() -> FastAPI:
    """The app for one of several ``hcp server --workers N`` processes: uvicorn starts each worker from an import
    string, so the CLI hands the database URL over in ``HCP_SERVER_DB`` and the settings file in
    ``HCP_SERVER_SETTINGS`` (read here, at the process edge only)."""
    import os

    from sync_server.observability import configure_json_logging

    configure_json_logging()
    settings_file = load_server_settings(os.environ.get(SETTINGS_ENV))
    return create_app(Store.from_url(os.environ[DB_ENV]), settings_file=settings_file)


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message, "status": status}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    # Console addresses (/console/…) answer the console's Chinese HTML pages; everything else the API's JSON shape.
    from sync_server.console.errorpages import error_page, is_console, validation_page

    @app.exception_handler(ServerError)
    async def _server_error(request: Request, exc: ServerError):
        if isinstance(exc, Unauthorized) and not isinstance(exc, CaseSystemKeyInvalid):
            app.state.event_metrics.refused(exc)
        if is_console(request):
            return error_page(request, exc.status, exc.message)
        return error_response(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        if is_console(request):
            return validation_page(request, exc.errors())
        return error_response(422, "请求内容不符合要求：" + _first_problem(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if is_console(request):
            return error_page(request, exc.status_code)
        messages = {400: "请求体无法解析", 404: "没有这个地址", 405: "不支持此请求方法"}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)), headers or None)

    @app.exception_handler(OperationalError)
    async def _database_busy(request: Request, exc: OperationalError):
        # A locked SQLite file past its busy timeout, or PostgreSQL gone for a moment: the terminal retries.
        log.warning("database unavailable: %s", exc.orig)
        headers = {"Retry-After": str(RETRY_AFTER_BUSY_S)}
        if is_console(request):
            response = error_page(request, 503)
            response.headers.update(headers)
            return response
        return error_response(503, "服务器繁忙，请稍后重试", headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unexpected error", exc_info=exc)
        if is_console(request):
            return error_page(request, 500)
        return error_response(500, "服务器内部错误，请稍后重试")


def allowed_methods(app: FastAPI, scope) -> list[str]:
    """Every method some route answers at this path (a path served by several routes, one per method, would
    otherwise name only the first route's methods in the 405's Allow header)."""
    from starlette.routing import Match

    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in app.router.routes)
    ]


def _first_problem(errors) -> str:
    if not errors:
        return "格式不正确"
    err = errors[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
    if err.get("type") == "json_invalid":
        return "不是有效的 JSON"
    return f"{where or '请求体'}：{err.get('msg', '格式不正确')}"


class EdgeMiddleware:
    """Pure ASGI: refuses bodies over the limit with 413 before anything parses them, and stamps every
    response with ``X-HCP-Server-Time``."""

    def __init__(self, app, clock: Clock, max_body_bytes: int, upload_max_bytes: int | None = None):
        self.app, self.clock, self.max_body_bytes = app, clock, max_body_bytes
        self.upload_max_bytes = upload_max_bytes or max_body_bytes  # appeal evidence uploads (差评 workflow)

    def _limit(self, scope) -> int:
        path = scope.get("path", "")
        upload = path.startswith("/console/cases/") and "/steps/" in path
        return self.upload_max_bytes if upload else self.max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = self._stamping(send)
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._too_large(scope, receive, send, limit)
        if (
            declared is None
            and scope["method"] in ("GET", "HEAD")
            and b"transfer-encoding" not in dict(scope["headers"])
        ):
            return await self.app(scope, receive, send)  # no body to bound
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._too_large(scope, receive, send, limit)
            if not message.get("more_body"):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _stamping(self, send):
        async def stamped(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((HEADER_SERVER_TIME.lower().encode(), f"{self.clock().timestamp():.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        return stamped

    async def _too_large(self, scope, receive, send, limit: int):
        limit_kib = limit // 1024
        response = error_response(413, f"请求体过大（上限 {limit_kib} KiB），请分批发送")
        await response(scope, receive, send)


def _replay(body: bytes, receive):
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def json_body(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()
