"""Errors in the console are Chinese pages with a way back, never a stack trace or the API's JSON: every id in a
console address is range-checked (an id past SQLite's and PostgreSQL's integers answers 404, not 500), unknown
addresses, refused roles and unexpected failures each have their page."""

from __future__ import annotations

import logging
import re

import pytest
from console_helpers import csrf_of, sign_in

HUGE_IDS = ("9223372036854775808", "99999999999999999999999", "0", "-1", "abc", "1e3")
# Words and codes, not ids: a valid one each, so that only the id is wrong.
FIXED_PARAMS = {"step": "close", "fmt": "csv", "action": "confirm", "clerk_no": "1001"}


def every_route(routes, prefix: str = ""):
    """The app's routes, also those of included routers (FastAPI keeps them behind an include wrapper)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from every_route(inner.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            yield prefix, route


def console_routes_with_ids(app) -> list[tuple[str, str, list[str]]]:
    """(method, path template, names of its id parameters) for every console route with a path parameter."""
    out = []
    for prefix, route in every_route(app.routes):
        path = prefix + route.path
        if not path.startswith("/console/") or "{" not in path:
            continue
        names = [n for n in re.findall(r"{(\w+)}", path) if n not in FIXED_PARAMS]
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, path, names))
    return out


def fill(path: str, names: list[str], value: str) -> str:
    for name, fixed in FIXED_PARAMS.items():
        path = path.replace("{" + name + "}", fixed)
    for name in names:
        path = path.replace("{" + name + "}", value)
    return path


def assert_404_page(answer, where: str) -> None:
    assert answer.status_code == 404, (where, answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html"), where
    assert "<h1>未找到</h1>" in answer.text, where
    assert 'id="way-back"' in answer.text, where
    assert "Traceback" not in answer.text and "Input should" not in answer.text, where


def test_every_console_route_answers_404_for_ids_out_of_range(app_client, caplog):
    routes = console_routes_with_ids(app_client.app)
    assert {p for _, p, _ in routes} >= {
        "/console/cases/{case_id}",
        "/console/cases/{case_id}/steps/{step}",
        "/console/cases/{case_id}/evidence/{evidence_id}",
        "/console/ratings/{record_id}",
    }
    sign_in(app_client, "admin")
    token = csrf_of(app_client.get("/console/dashboard").text)
    caplog.set_level(logging.ERROR)
    walked = 0
    for method, template, names in routes:
        if not names:
            continue
        for value in HUGE_IDS:
            url = fill(template, names, value)
            if method == "GET":
                answer = app_client.get(url)
            else:
                answer = app_client.post(url, data={"csrf_token": token, "text": "核实属实", "fix_kind": "simple"})
            assert_404_page(answer, f"{method} {url}")
            walked += 1
    assert walked >= 4 * len(HUGE_IDS)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a server error was logged"


def test_a_case_id_that_is_not_a_number_is_the_404_page_not_json(app_client):
    sign_in(app_client, "admin")
    answer = app_client.get("/console/cases/abc")
    assert_404_page(answer, "/console/cases/abc")
    assert "没有这个编号的记录" in answer.text
    assert 'href="/console/cases" id="way-back">返回差评处理' in answer.text


def test_an_unknown_console_address_is_the_404_page_with_navigation(app_client):
    sign_in(app_client, "admin")
    answer = app_client.get("/console/no-such-page")
    assert_404_page(answer, "/console/no-such-page")
    assert "审计日志" in answer.text  # the signed-in navigation is kept


def test_the_way_back_is_the_console_page_the_user_came_from(app_client):
    sign_in(app_client, "admin")
    came_from = "http://testserver/console/ratings?level=bad&from=2026-11-01"
    answer = app_client.get("/console/cases/99999999999999999999999", headers={"Referer": came_from})
    assert 'href="/console/ratings?level=bad&amp;from=2026-11-01" id="way-back">返回上一页' in answer.text
    elsewhere = app_client.get("/console/cases/0", headers={"Referer": "https://example.com/console/users"})
    assert 'href="/console/cases" id="way-back"' in elsewhere.text  # another site's page is not a way back


def test_a_refused_role_gets_the_chinese_403_page(app_client):
    sign_in(app_client, "sc_reviewer")
    answer = app_client.get("/console/users")
    assert answer.status_code == 403
    assert "<h1>无权访问</h1>" in answer.text and "您的角色无权访问此页面" in answer.text
    assert 'id="way-back"' in answer.text


def test_an_unexpected_failure_is_the_chinese_500_page_and_is_logged(app_client, monkeypatch, caplog):
    from sync_server.console import metrics

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(metrics, "dashboard", broken)
    sign_in(app_client, "admin")
    caplog.set_level(logging.ERROR)
    answer = app_client.get("/console/dashboard")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>服务器出错</h1>" in answer.text and "disk on fire" not in answer.text
    assert 'id="way-back"' in answer.text
    assert any("unexpected error" in r.message for r in caplog.records)


@pytest.mark.parametrize("path", ["/api/v1/no-such", "/r/"])
def test_addresses_outside_the_console_keep_the_api_error_shape(app_client, path):
    answer = app_client.get(path)
    assert answer.status_code == 404
    assert answer.json()["ok"] is False


@pytest.mark.parametrize(
    "url, message",
    [
        ("/console/dashboard?department=XX", "没有部门“XX”"),
        ("/console/ratings?department=XX", "没有部门“XX”"),
        ("/console/ratings?window=Z99", "没有窗口“Z99”"),
        ("/console/ratings?clerk=9999", "没有工号“9999”"),
        ("/console/export/gbt39046.csv?clerk=9999", "没有工号“9999”"),
        ("/console/reports/monthly.csv?month=2026-11&department=XX", "没有部门“XX”"),
    ],
)
def test_an_unknown_department_window_or_clerk_in_a_filter_is_an_error(app_client, url, message):
    sign_in(app_client, "admin")
    answer = app_client.get(url)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert message in answer.text and "<h1>参数有误</h1>" in answer.text
    assert 'id="kpi-count"' not in answer.text  # no all-zero dashboard labelled with the unknown code


def test_known_filters_still_answer(app_client):
    sign_in(app_client, "admin")
    assert app_client.get("/console/dashboard?department=SC").status_code == 200
    assert app_client.get("/console/ratings?window=A01&clerk=1001").status_code == 200


def form_field_error(html: str, field: str) -> str:
    found = re.search(rf'id="error-{field}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else ""


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({"username": "li.xm", "password": "short", "role": "admin"}, "password", "密码至少 8 位"),
        ({"username": "  ", "password": "long-enough-1", "role": "admin"}, "username", "请填写用户名"),
        (
            {"username": "li.xm", "password": "long-enough-1", "role": "reviewer"},
            "department",
            "部门审核员必须指定部门",
        ),
        (
            {"username": "li.xm", "password": "long-enough-1", "role": "admin", "department": "SC"},
            "department",
            "大厅管理员可查看全大厅，不能指定部门",
        ),
        ({"username": "admin", "password": "long-enough-1", "role": "admin"}, "username", "用户名“admin”已存在"),
    ],
)
def test_a_refused_new_user_shows_the_message_at_its_field_and_keeps_the_input(app_client, form, field, message):
    sign_in(app_client, "admin")
    token = csrf_of(app_client.get("/console/users").text)
    answer = app_client.post("/console/users", data={"csrf_token": token, **form})
    assert answer.status_code == 400
    assert form_field_error(answer.text, field) == message
    assert "--" not in answer.text.split("<main>")[1]  # no command-line flag in the page
    assert f'name="username" required value="{form["username"]}"' in answer.text
    assert f'<option value="{form["role"]}" selected>' in answer.text
    assert 'name="password" type="password" required minlength="8" autocomplete="new-password">' in answer.text
