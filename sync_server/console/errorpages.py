"""The console's error pages: 404, 403, 422, 500 and the rest as Chinese pages in the console's layout, each with a
link back to where the user was (the page they came from, else the section the address belongs to).

``RowId`` is the type of every numeric id in a console path: an id outside 1 … 2⁶³−1 (or not a number) never
reaches the database and answers the 404 page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Path, Request
from fastapi.responses import HTMLResponse

MAX_ROW_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) store
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

TITLES = {
    400: "参数有误",
    401: "请先登录",
    403: "无权访问",
    404: "未找到",
    405: "不支持此操作",
    409: "无法办理",
    413: "提交的内容过大",
    422: "填写有误",
    429: "请稍后再试",
    500: "服务器出错",
    503: "服务器繁忙",
}
MESSAGES = {
    404: "没有这个页面，或它不在您的查看范围内。请检查地址，或从导航重新进入。",
    405: "这个地址不支持此操作，请从页面上的按钮办理。",
    500: "服务器处理时出错，错误已记录，您填写或保存的数据没有改动。请稍后重试；问题持续时请联系系统管理员。",
    503: "服务器繁忙，请稍后重试。",
}
BAD_ID = "没有这个编号的记录：地址中的编号不存在，或不在您的查看范围内。"


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == "/console" or path.startswith("/console/")


def way_back(request: Request) -> tuple[str, str]:
    """(href, text): the console page the user came from, else the section of this address, else the dashboard."""
    from sync_server.console.pages import NAV

    came_from = urlsplit(request.headers.get("referer", ""))
    same_site = came_from.netloc == request.url.netloc
    if same_site and came_from.path.startswith("/console/") and came_from.path != request.url.path:
        if not came_from.path.startswith("/console/login"):
            return came_from.path + (f"?{came_from.query}" if came_from.query else ""), "返回上一页"
    for _key, href, text, _roles in NAV:
        if request.url.path.startswith(href + "/"):
            return href, f"返回{text}"
    return "/console/dashboard", "返回统计概览"


def error_page(request: Request, status: int, message: str = "", title: str = "") -> HTMLResponse:
    """The Chinese error page for ``status`` in the console's layout (navigation kept when signed in)."""
    from sync_server.console.pages import page

    viewer = getattr(request.state, "viewer", None) or _signed_in(request)
    back_href, back_text = way_back(request)
    return page(
        request,
        "error.html",
        viewer,
        status,
        names=_names(request),
        title=title or TITLES.get(status, "出错了"),
        message=message or MESSAGES.get(status, "请求无法完成。"),
        code=status,
        back_href=back_href,
        back_text=back_text,
    )


def _signed_in(request: Request):
    """The viewer of the request's session, if any (an unknown address has no route that signed it in)."""
    from sync_server.console.accounts import load_viewer
    from sync_server.console.auth import SESSION_COOKIE
    from sync_server.console.context import console_settings, current_hall

    if not request.cookies.get(SESSION_COOKIE):
        return None
    app = request.app
    token = request.cookies[SESSION_COOKIE]
    try:
        return load_viewer(app.state.store, token, app.state.clock(), console_settings(app), current_hall(app))
    except Exception:  # noqa: BLE001 - signed out, expired or the database failing: the page shows no navigation
        return None


def _names(request: Request):
    """The hall's names for the page's header; the plain defaults when the database cannot be read (a 503)."""
    from sync_server.console import labels
    from sync_server.console.pages import names_of

    try:
        return names_of(request)
    except Exception:  # noqa: BLE001 - the error page must render even when the database is what failed
        return labels.Names.of(None)


def validation_page(request: Request, errors) -> HTMLResponse:
    """FastAPI's validation failures on a console route: a bad id in the path is a 404, a bad form field 422."""
    if any(err.get("loc", ("",))[0] == "path" for err in errors):
        return error_page(request, 404, BAD_ID)
    fields = "、".join(sorted({str(err.get("loc", ("", "?"))[-1]) for err in errors}))
    return error_page(request, 422, f"提交的内容有误（{fields}），请返回修改后重新提交。")


def workflow_title(error) -> str:
    """The console's page title for a workflow error (the workflow's errors carry none)."""
    from sync_server.workflow import errors

    titles = {
        errors.RoleRefused: "无权办理",
        errors.OutsideDepartment: "无权办理",
        errors.OwnAppeal: "需由他人审核",
        errors.CaseNotFound: "未找到",
        errors.StepInputInvalid: "参数有误",
        errors.EvidenceRejected: "证据文件不符合要求",
    }
    return next((title for kind, title in titles.items() if isinstance(error, kind)), "无法办理")
