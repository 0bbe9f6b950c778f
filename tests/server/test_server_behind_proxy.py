"""A real ``hcp server`` behind a reverse proxy on the same host (deploy/nginx/hcp.conf): the console's cookies
are marked Secure when the proxy says the page came over HTTPS, and the audit log names the user's address,
not the proxy's. Plain HTTP (the demo) keeps cookies without Secure, or the browser would drop them."""

from __future__ import annotations

import re

import httpx
from server_helpers import real_clock, server_process
from sqlalchemy import select

from sync_server.console.accounts import add_user
from sync_server.console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from sync_server.db import Store, migrate
from sync_server.storage.schema import audit_log

PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.20.30.40"}


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def _sign_in(base: str, headers: dict, password: str) -> httpx.Response:
    with httpx.Client(base_url=base, headers=headers) as client:
        page = client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"username": "admin", "password": password, "csrf_token": token, "next": ""}
        client.cookies.clear()  # the proxy speaks plain HTTP to the server: send the cookie as the browser would
        cookie = f"{LOGIN_CSRF_COOKIE}={page.cookies[LOGIN_CSRF_COOKIE]}"
        return client.post("/console/login", data=form, headers={"Cookie": cookie})


def test_cookies_are_secure_only_over_https_and_the_audit_names_the_real_address(tmp_path):
    url = f"sqlite:///{tmp_path / 'server.db'}"
    store = Store.from_url(url)
    migrate(store)
    add_user(store, "admin", "admin", "管理员密码-2026", real_clock(), "test")
    store.dispose()
    with server_process(url, tmp_path / "server.log") as base:
        proxied = _sign_in(base, PROXIED, "管理员密码-2026")
        assert proxied.status_code == 303
        session = _set_cookies(proxied)[SESSION_COOKIE]
        assert "; Secure" in session and "HttpOnly" in session
        direct = _sign_in(base, {}, "管理员密码-2026")
        assert direct.status_code == 303
        assert "Secure" not in _set_cookies(direct)[SESSION_COOKIE]
        with httpx.Client(base_url=base, headers=PROXIED) as client:
            assert "; Secure" in _set_cookies(client.get("/console/login"))[LOGIN_CSRF_COOKIE]
        assert _sign_in(base, PROXIED, "wrong password").status_code == 401
    store = Store.from_url(url)
    with store.read() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.address).order_by(audit_log.c.id)).all()
    store.dispose()
    assert ("signin", "10.20.30.40") in rows and ("signin", "127.0.0.1") in rows
    assert ("signin.failed", "10.20.30.40") in rows
