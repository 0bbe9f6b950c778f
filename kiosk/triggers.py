"""The kiosk's trigger inputs: a token-protected local HTTP endpoint, the command line, a barcode wedge.

All three end in the same place: a ``kiosk.flow.Trigger`` handed to the flow, which decides.

- ``TriggerServer``: ``POST /trigger`` with ``{"case_no": ..., "matter_code": ...}`` and
  ``Authorization: Bearer <token>``, for the case system (办件系统). Standard library only.
- ``trigger_from_cli``: ``hcp kiosk trigger --case ... --matter ...`` posts to the running kiosk.
- ``BarcodeWedge`` / ``parse_scan``: a scanner that types the case slip's barcode as a keyboard.

The endpoint answers only whether a prompt was shown; it never reveals any rating.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kiosk.errors import KioskError, OutboxError, TriggerRefused
from kiosk.flow import Trigger

log = logging.getLogger(__name__)

TRIGGER_PATH = "/trigger"
MAX_BODY_BYTES = 4096
FIELDS = {"case_no", "matter_code"}
# Refusal codes that are not a conflict with the terminal's state get their own status.
REFUSAL_STATUS = {"too_soon": 429, "bad_case": 422, "unknown_matter": 422}
CLI_TIMEOUT_S = 5.0


class BadRequest(KioskError):
    """A request the endpoint cannot act on; carries the HTTP status and the Chinese message."""

    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.code = status, code


# ---------------------------------------------------------------- the HTTP endpoint


class TriggerServer:
    """The local endpoint the case system calls when a case closes. Serves on a daemon thread.

    ``submit`` hands the trigger to the flow; it may raise ``TriggerRefused``.
    Port 0 binds a free port; ``.port`` tells which one after ``start()``.
    """

    def __init__(self, host: str, port: int, token: str, submit: Callable[[Trigger], None]):
        if not token:
            raise ValueError("trigger token must not be empty")
        self.host = host
        self.token = token.encode()
        self.submit = submit
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}{TRIGGER_PATH}"

    def start(self) -> None:
        try:
            server_class = _Server6 if ":" in self.host else _Server
            httpd = server_class((self.host, self._port), _Handler)
        except OSError as e:
            raise KioskError(f"触发接口无法监听 {self.host}:{self._port}：{e.strerror or e}") from e
        httpd.trigger_server = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="trigger-http", daemon=True
        )
        self._thread.start()
        log.info("trigger endpoint listening on %s", self.url)

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._port = self.port
        self._httpd = None

    def authorized(self, header: str | None) -> bool:
        """Constant-time comparison of ``Authorization: Bearer <token>``."""
        scheme, _, presented = (header or "").partition(" ")
        presented_bytes = presented.strip().encode("utf-8", "replace")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented_bytes, self.token)

    def handle(self, body: bytes) -> tuple[int, dict]:
        """Act on an authorized request body; return the status and the JSON answer."""
        trigger = parse_request(body)
        try:
            self.submit(trigger)
        except TriggerRefused as e:
            log.warning("trigger refused: case %r, %s (%s)", trigger.case_no, e.code, e)
            status = REFUSAL_STATUS.get(e.code, 409)
            return status, _error(status, str(e), e.code)
        except OutboxError as e:
            log.error("trigger failed: case %r: %s", trigger.case_no, e)
            return 503, _error(503, str(e), "storage")
        log.info("trigger accepted: case %r via http", trigger.case_no)
        return 200, {"ok": True, "case_no": trigger.case_no.strip()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    trigger_server: TriggerServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "hcp-kiosk"
    sys_version = ""
    timeout = 5  # seconds a slow client may take to send its request

    def do_POST(self) -> None:
        self._dispatch(post=True)

    def do_GET(self) -> None:
        self._dispatch(post=False)

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self, post: bool) -> None:
        trigger = self.server.trigger_server
        try:
            if self.path.split("?")[0] != TRIGGER_PATH:
                raise BadRequest(404, "没有这个接口，请使用 POST /trigger", "not_found")
            if not post:
                raise BadRequest(405, "只接受 POST 请求", "method_not_allowed")
            if not trigger.authorized(self.headers.get("Authorization")):
                log.warning("trigger refused: wrong or missing token from %s", self.client_address[0])
                raise BadRequest(401, "令牌不正确或缺失（Authorization: Bearer <令牌>）", "unauthorized")
            status, answer = trigger.handle(self._read_body())
        except BadRequest as e:
            status, answer = e.status, _error(e.status, str(e), e.code)
        except Exception:  # never leave the case system without an answer
            log.exception("trigger endpoint failed")
            status, answer = 500, _error(500, "评价器内部错误，请查看评价器日志", "internal")
        self._answer(status, answer)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest(400, "不支持分块传输，请提供 Content-Length", "bad_request")
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            raise BadRequest(400, "缺少或无效的 Content-Length", "bad_request")
        if int(length) > MAX_BODY_BYTES:
            raise BadRequest(400, f"请求体过大（上限 {MAX_BODY_BYTES} 字节）", "too_large")
        return self.rfile.read(int(length))

    def _answer(self, status: int, answer: dict) -> None:
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="hcp-kiosk"')
        if status == 405:
            self.send_header("Allow", "POST")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        log.debug("%s %s", self.client_address[0], format % args)


def parse_request(body: bytes) -> Trigger:
    """The body of ``POST /trigger`` as a Trigger, or BadRequest(400) saying what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "请求体不是有效的 JSON（UTF-8）", "bad_json") from None
    if not isinstance(data, dict):
        raise BadRequest(400, '请求体应为 JSON 对象，如 {"case_no": "…", "matter_code": "…"}', "bad_json")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise BadRequest(400, f"未知字段：{', '.join(unknown)}（只接受 case_no、matter_code）", "bad_field")
    case_no, matter_code = data.get("case_no"), data.get("matter_code")
    if not isinstance(case_no, str) or not case_no.strip():
        raise BadRequest(400, "缺少 case_no（办件编号，字符串）", "bad_field")
    if matter_code is not None and not isinstance(matter_code, str):
        raise BadRequest(400, "matter_code（事项编码）应为字符串", "bad_field")
    return Trigger(case_no=case_no, matter_code=matter_code or None, source="http")


def _error(status: int, message: str, code: str) -> dict:
    return {"ok": False, "error": message, "code": code, "status": status}


def _url_host(host: str) -> str:
    """The address a local client should connect to for a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# ---------------------------------------------------------------- the command line


def trigger_from_cli(settings_path: Path | str, case: str, matter: str | None) -> int:
    """``hcp kiosk trigger``: 0 when the prompt shows, 1 when refused, 2 when the kiosk is unreachable."""
    import urllib.error
    import urllib.request

    from kiosk.settings import load_settings

    settings = load_settings(settings_path)
    url = f"http://{_url_host(settings.trigger_host)}:{settings.trigger_port}{TRIGGER_PATH}"
    request = urllib.request.Request(
        url,
        data=json.dumps({"case_no": case, "matter_code": matter}, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.trigger_token}"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local: never via a proxy
    try:
        with opener.open(request, timeout=CLI_TIMEOUT_S) as response:
            answer = _json_or_empty(response.read())
    except urllib.error.HTTPError as e:
        answer = _json_or_empty(e.read())
        print(f"评价未发起：{answer.get('error') or f'HTTP {e.code}'}", file=_stderr())
        return 1
    except (urllib.error.URLError, OSError):
        print(f"评价器未运行或无法连接 {url}", file=_stderr())
        return 2
    print(f"已在 {settings.window} 窗口发起评价：办件 {answer.get('case_no', case.strip())}")
    return 0


def _json_or_empty(data: bytes) -> dict:
    try:
        answer = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _stderr():
    import sys

    return sys.stderr


# ---------------------------------------------------------------- the barcode wedge


class BarcodeWedge:
    """Tells a keyboard-wedge scanner from a person typing, one character at a time.

    A scanner types a whole code in a burst (characters well under ``max_gap_s`` apart) and ends
    it with Enter. ``feed`` returns the scanned text when such a burst ends; slow typing, bursts
    shorter than ``min_chars``, input longer than ``max_chars`` and bursts holding control
    characters are discarded.
    ``clock`` returns a datetime (the flow's clock) or seconds as a float.
    """

    def __init__(
        self, clock: Callable[[], datetime | float], max_gap_s: float = 0.05, min_chars: int = 3, max_chars: int = 160
    ):
        self.clock = clock
        self.max_gap_s = max_gap_s
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.reset()

    def reset(self) -> None:
        """Forget any partial input (e.g. when the idle screen is left)."""
        self._chars: list[str] = []
        self._last: datetime | float | None = None
        self._spoiled = False

    def feed(self, ch: str) -> str | None:
        """Take one keystroke (or a few); return the scanned text when Enter ends a scanner burst."""
        result = None
        for c in ch:
            scanned = self._feed_one(c)
            if scanned is not None:
                result = scanned
        return result

    def _feed_one(self, c: str) -> str | None:
        now = self.clock()
        fast = self._last is not None and _seconds(now - self._last) <= self.max_gap_s
        self._last = now
        if c in "\r\n":
            text = "".join(self._chars)
            complete = fast and not self._spoiled and len(text) >= self.min_chars
            self.reset()
            return text if complete else None
        if not fast:  # a pause: whatever came before was typed by hand
            self._chars, self._spoiled = [], False
        if not c.isprintable() or len(self._chars) >= self.max_chars:
            self._spoiled = True
        else:
            self._chars.append(c)
        return None


def _seconds(delta) -> float:
    return delta.total_seconds() if hasattr(delta, "total_seconds") else float(delta)


def parse_scan(text: str) -> Trigger:
    """A scanned case slip as a trigger: ``CASE`` or ``CASE|MATTER`` (the flow checks both)."""
    case_no, _, matter_code = text.strip().partition("|")
    return Trigger(case_no=case_no.strip(), matter_code=matter_code.strip() or None, source="barcode")
