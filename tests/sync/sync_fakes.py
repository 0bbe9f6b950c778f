"""A scripted stand-in for ``requests.Session``: it answers with real ``requests.Response`` objects
(or raises real ``requests`` exceptions) in the order a test lists them, and keeps what was sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import requests
from requests.structures import CaseInsensitiveDict


def reply(status: int = 200, body=None, *, raw: bytes | None = None, headers: dict | None = None, server_time=None):
    """A real Response with a JSON body (or raw bytes) and optional X-HCP-Server-Time."""
    response = requests.Response()
    response.status_code = status
    response._content = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    response.headers = CaseInsensitiveDict(headers or {})
    if server_time is not None:
        response.headers["X-HCP-Server-Time"] = str(server_time)
    response.encoding = "utf-8"
    return response


def acks(records, status="stored", server_time=None):
    body = {"ok": True, "results": [{"id": r["id"], "status": status} for r in records]}
    return reply(200, body, server_time=server_time)


@dataclass
class Sent:
    method: str
    url: str
    headers: dict
    body: bytes | None
    timeout: object

    def json(self):
        return json.loads(self.body) if self.body else None


@dataclass
class FakeSession:
    """Each entry of ``script`` is a Response, an exception to raise, or a callable(Sent) -> Response."""

    script: list = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def request(self, method, url, data=None, headers=None, timeout=None):
        sent = Sent(method, url, dict(headers or {}), data, timeout)
        self.sent.append(sent)
        if not self.script:
            raise AssertionError(f"unexpected request {method} {url}")
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(sent)
        return answer
