"""A fault-injecting HTTP proxy on 127.0.0.1 for the end-to-end sync tests.

One request per connection (it answers ``Connection: close``). For each request a seeded random
fate decides what happens:

    pass         forward, return the whole answer
    drop         close the connection without forwarding (the server never hears of it)
    error500     answer 500 without forwarding
    busy503      answer 503 with ``Retry-After: 1`` without forwarding
    stall        hold the connection open without forwarding until the client times out
    lost_reply   forward (the server stores the batch), then close without answering
    stall_reply  forward, then hold the answer back until the client times out
    truncate     forward, send only the first half of the answer's bytes, close
    cut_json     forward, send a well-formed HTTP answer whose JSON body is cut in half

``counts`` says how often each fate was dealt, so a test can check the faults really happened.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter

FATES = ("pass", "drop", "error500", "busy503", "stall", "lost_reply", "stall_reply", "truncate", "cut_json")
FORWARDING = {"pass", "lost_reply", "stall_reply", "truncate", "cut_json"}


class FaultProxy:
    def __init__(self, upstream_port: int, seed: int, weights: dict[str, float] | None = None, stall_s: float = 2.0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.rng = random.Random(seed)
        self.weights = weights or dict.fromkeys(FATES, 1.0)
        self.stall_s = stall_s
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)
        self._listener.close()

    def _fate(self) -> str:
        with self._lock:
            names = list(self.weights)
            fate = self.rng.choices(names, [self.weights[n] for n in names])[0]
            self.counts[fate] += 1
            return fate

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                request = read_message(conn)
                if request is None:
                    return
                fate = self._fate()
                if fate not in FORWARDING:
                    self._without_server(conn, fate)
                    return
                answer = self._forward(close_after(request))
                self._answer(conn, fate, answer)
            except OSError:
                return

    def _without_server(self, conn: socket.socket, fate: str) -> None:
        if fate == "error500":
            conn.sendall(_response(500, b'{"ok": false, "error": "injected", "status": 500}'))
        elif fate == "busy503":
            conn.sendall(_response(503, b'{"ok": false, "error": "busy", "status": 503}', b"Retry-After: 1\r\n"))
        elif fate == "stall":
            self._stop.wait(self.stall_s)

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=30) as up:
            up.sendall(request)
            chunks = []
            while chunk := up.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def _answer(self, conn: socket.socket, fate: str, answer: bytes) -> None:
        if fate == "pass":
            conn.sendall(answer)
        elif fate == "stall_reply":
            self._stop.wait(self.stall_s)
        elif fate == "truncate":
            conn.sendall(answer[: len(answer) // 2])
        elif fate == "cut_json":
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            conn.sendall(_response(status, body[: len(body) // 2]))
        # lost_reply: say nothing


def read_message(conn: socket.socket) -> bytes | None:
    """One HTTP request: the head up to the blank line, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def close_after(request: bytes) -> bytes:
    """Ask the server to close the connection after answering, so the answer ends at EOF."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _response(status: int, body: bytes, extra: bytes = b"") -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode()
    return head + extra + b"\r\n" + body
