"""How a console page is drawn: the templates, the security headers, the navigation by role, the hall's names and
``page()``. Every console view renders through here; ``console.web`` installs the routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sync_server.console import labels
from sync_server.console.accounts import ADMIN, REVIEWER, REVISITOR, SUPERVISOR, Viewer
from sync_server.console.context import current_version

SERVER_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = SERVER_DIR / "static"
TEMPLATES = Environment(
    loader=FileSystemLoader(SERVER_DIR / "templates" / "console"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,  # templates ship with the package: no file check on every page
)
TEMPLATES.filters.update(
    percent=labels.percent,
    mean=labels.mean,
    china_time=labels.china_time,
    level_label=labels.level_label,
    channel_label=labels.channel_label,
    status_label=labels.status_label,
)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
NAV = (
    ("dashboard", "/console/dashboard", "统计概览", (ADMIN, REVIEWER, SUPERVISOR, REVISITOR)),
    ("ratings", "/console/ratings", "评价明细", (ADMIN, REVIEWER, SUPERVISOR)),
    ("cases", "/console/cases", "差评处理", (ADMIN, REVIEWER, SUPERVISOR, REVISITOR)),
    ("closed", "/console/closed-cases", "办件对账", (ADMIN, REVIEWER, SUPERVISOR)),
    ("upstream", "/console/upstream", "上报", (ADMIN, SUPERVISOR)),
    ("integrity", "/console/integrity", "数据完整性", (ADMIN, SUPERVISOR)),
    ("devices", "/console/devices", "评价器设备", (ADMIN, SUPERVISOR)),
    ("reports", "/console/reports", "报表与导出", (ADMIN, REVIEWER, SUPERVISOR)),
    ("assessment", "/console/assessment", "考核与考勤", (ADMIN, REVIEWER, SUPERVISOR)),
    ("users", "/console/users", "用户", (ADMIN,)),
    ("audit", "/console/audit", "审计日志", (ADMIN, SUPERVISOR)),
)


def names_of(request: Request) -> labels.Names:
    cv = current_version(request.app)
    return labels.Names.of(cv.config if cv else None)


def page(request: Request, name: str, viewer: Viewer | None, status: int = 200, **context) -> HTMLResponse:
    """Render a console page with the navigation for the viewer's role."""
    names = context.pop("names", None) or names_of(request)
    nav = [(key, href, text) for key, href, text, roles in NAV if viewer and viewer.role in roles]
    html = TEMPLATES.get_template(name).render(
        viewer=viewer, nav=nav, names=names, hall_name=names.hall_name, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
