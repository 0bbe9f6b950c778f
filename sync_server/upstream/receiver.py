"""A small stand-in for the provincial 好差评 platform, for the demo and the tests: its own process on loopback.

It checks the HMAC signature, keeps each item once by its id (a repeat is answered ``duplicate``) and answers
``{"results": [{"id", "status", "code", "message"}]}``. ``POST /control`` (JSON) tells it how to misbehave:

- ``mode``: ``ok``; ``fail`` (HTTP 503 for everything); ``garbage`` (HTTP 200 with a body that is not JSON);
  ``duplicate`` (every result listed twice); ``delay`` (answer after ``delay_s`` seconds);
- ``reject_kinds``: item kinds (by the ``kind`` field's province name) to reject with ``reject_code`` and
  ``reject_message``; ``reject_ids``: item ids to reject.

``GET /received`` gives the counts: items kept, deliveries (repeats included) and the ids delivered more than once;
``GET /items`` the items kept.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sync_server.upstream.payload import SIGNATURE_HEADER, verify
from sync_server.upstream.settings import DEFAULT_FIELDS

DEFAULTS = {
    "mode": "ok",
    "delay_s": 0.0,
    "reject_kinds": [],
    "reject_ids": [],
    "reject_code": "E400",
    "reject_message": "数据校验不通过",
}


class Platform:
    """The receiver's state: what it keeps and how it behaves (thread-safe)."""

    def __init__(self, secret: str, id_field: str = DEFAULT_FIELDS["id"], kind_field: str = DEFAULT_FIELDS["kind"]):
        self.secret, self.id_field, self.kind_field = secret, id_field, kind_field
        self.lock = threading.Lock()
        self.control = dict(DEFAULTS)
        self.kept: dict[str, dict] = {}
        self.deliveries: dict[str, int] = {}
        self.requests = 0

    def answer(self, items: list) -> list[dict]:
        control = self.control
        results = []
        with self.lock:
            self.requests += 1
            for item in items:
                item_id = str(item.get(self.id_field, ""))
                self.deliveries[item_id] = self.deliveries.get(item_id, 0) + 1
                if item_id in control["reject_ids"] or item.get(self.kind_field) in control["reject_kinds"]:
                    code, message = control["reject_code"], control["reject_message"]
                    results.append({"id": item_id, "status": "rejected", "code": code, "message": message})
                elif item_id in self.kept:
                    results.append({"id": item_id, "status": "duplicate"})
                else:
                    self.kept[item_id] = item
                    results.append({"id": item_id, "status": "accepted"})
        return results + results if control["mode"] == "duplicate" else results

    def summary(self) -> dict:
        with self.lock:
            repeated = sorted(k for k, n in self.deliveries.items() if n > 1)
            return {
                "kept": len(self.kept),
                "deliveries": sum(self.deliveries.values()),
                "repeated": repeated,
                "requests": self.requests,
                "mode": self.control["mode"],
            }


def handler_for(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):  # quiet: the tests and the demo read the counts instead
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj) -> None:
            self._reply(status, json.dumps(obj, ensure_ascii=False).encode())

        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/received":
                return self._json(200, platform.summary())
            if self.path == "/items":
                with platform.lock:
                    return self._json(200, list(platform.kept.values()))
            return self._json(404, {"error": "没有这个地址"})

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/control":
                platform.control = {**DEFAULTS, **json.loads(body or b"{}")}
                return self._json(200, platform.control)
            return self._items(body)

        def _items(self, body: bytes):
            mode = platform.control["mode"]
            if mode == "delay":
                time.sleep(float(platform.control["delay_s"]))
            if mode == "fail":
                return self._json(503, {"error": "省平台维护中"})
            if not verify(platform.secret, body, self.headers.get(SIGNATURE_HEADER)):
                return self._json(401, {"error": "签名不正确"})
            try:
                items = json.loads(body)["items"]
            except (ValueError, KeyError, TypeError):
                return self._json(400, {"error": '请求体应为 {"items": [...]}'})
            results = platform.answer(items)
            if mode == "garbage":
                return self._reply(200, b"<html>gateway</html>", "text/html")
            return self._json(200, {"results": results})

    return Handler


def serve(host: str, port: int, secret: str) -> ThreadingHTTPServer:
    """A running receiver (its thread serves until ``shutdown()``)."""
    server = ThreadingHTTPServer((host, port), handler_for(Platform(secret)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="模拟省好差评平台（演示与测试用，仅监听本机）")
    parser.add_argument("--port", type=int, default=8600, help="监听端口（默认 8600）")
    parser.add_argument("--secret", required=True, help="与中心服务约定的签名密钥")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Platform(args.secret)))
    print(f"模拟省平台：http://127.0.0.1:{args.port}/（GET /received 查看收到的数据）", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
