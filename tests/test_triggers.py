"""The trigger inputs: a real TriggerServer on a loopback port in front of a real Flow and outbox,
the ``hcp kiosk trigger`` command as a subprocess, and the barcode wedge."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from testkit import ADMIN_PIN_HASH, example_flow

from kiosk.errors import KioskError, OutboxFull
from kiosk.flow import Flow, Screen, SignIn, Submit, TapLevel, Tick, Trigger
from kiosk.triggers import BarcodeWedge, TriggerServer, parse_scan

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
TOKEN = "test-trigger-token-0123456789"
MATTER_A01_SECOND = "11450102MB1234567X4000112"
MATTER_OTHER_WINDOW = "11450102MB5555555Z2000301"


@pytest.fixture
def flow(hall_config, outbox, clock):
    flow = example_flow(hall_config, outbox, clock)
    flow.handle(SignIn("1001", "1111"))
    assert flow.screen is Screen.IDLE
    return flow


@pytest.fixture
def server(flow):
    server = TriggerServer("127.0.0.1", 0, TOKEN, flow.handle)
    server.start()
    yield server
    server.stop()


def request(server, body=b"", *, token=TOKEN, method="POST", path="/trigger", headers=None):
    """Send one raw request; return (status, decoded JSON answer)."""
    if isinstance(body, dict | list):
        body = json.dumps(body, ensure_ascii=False).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    all_headers = {"Content-Type": "application/json"}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    conn.request(method, path, body=body or None, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, (json.loads(data) if data else None)


def stored(outbox) -> list[dict]:
    return list(outbox.records())


def rate(flow, clock, level=5):
    flow.handle(TapLevel(level))
    flow.handle(Submit())
    clock.advance(30)
    flow.handle(Tick())
    assert flow.screen is Screen.IDLE


# ---------------------------------------------------------------- accepted


def test_accepted_trigger_shows_the_prompt(server, flow, outbox):
    status, answer = request(server, {"case_no": "2026112700001", "matter_code": MATTER_A01_SECOND})
    assert (status, answer) == (200, {"ok": True, "case_no": "2026112700001"})
    assert flow.screen is Screen.PROMPT
    prompt = flow.state.prompt
    assert (prompt.case_no, prompt.matter_code, prompt.matter_name) == (
        "2026112700001",
        MATTER_A01_SECOND,
        "食品经营许可",
    )
    assert prompt.source == "http"
    (record,) = outbox.records(kind="prompt")
    assert record["case_no"] == "2026112700001" and record["detail"] == {"source": "http"}


def test_matter_defaults_to_the_windows_first_matter(server, flow):
    status, _ = request(server, {"case_no": "C-100", "matter_code": None})
    assert status == 200
    assert flow.state.prompt.matter_name == "个体工商户设立登记"


# ---------------------------------------------------------------- refused before the flow


@pytest.mark.parametrize(
    "token, headers",
    [
        ("wrong-token-0123456789", {}),
        (TOKEN[:-1], {}),
        (TOKEN + "x", {}),
        (None, {}),
        (None, {"Authorization": TOKEN}),  # no "Bearer"
        (None, {"Authorization": f"Basic {TOKEN}"}),
        (None, {"Authorization": "Bearer 令牌".encode()}),
    ],
)
def test_wrong_or_missing_token_is_refused_and_nothing_stored(server, flow, outbox, token, headers):
    before = stored(outbox)
    status, answer = request(server, {"case_no": "C1"}, token=token, headers=headers)
    assert status == 401
    assert answer == {"ok": False, "error": answer["error"], "code": "unauthorized", "status": 401}
    assert "令牌" in answer["error"]
    assert flow.screen is Screen.IDLE
    assert stored(outbox) == before


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"{not json", 400, "不是有效的 JSON"),
        (b"", 400, "不是有效的 JSON"),
        (b'{"case_no": "C1"', 400, "不是有效的 JSON"),
        (b"\xff\xfe{}", 400, "不是有效的 JSON"),
        (b'["C1"]', 400, "应为 JSON 对象"),
        (b'"C1"', 400, "应为 JSON 对象"),
        ({}, 400, "缺少 case_no"),
        ({"matter_code": MATTER_A01_SECOND}, 400, "缺少 case_no"),
        ({"case_no": ""}, 400, "缺少 case_no"),
        ({"case_no": 12345}, 400, "缺少 case_no"),
        ({"case_no": ["C1"]}, 400, "缺少 case_no"),
        ({"case_no": "C1", "matter_code": 7}, 400, "matter_code"),
        ({"case_no": "C1", "level": 5}, 400, "未知字段：level"),
        ({"case_no": "X" * 65}, 422, "办件编号格式不正确"),
        ({"case_no": "案件 1"}, 422, "办件编号格式不正确"),
        ({"case_no": "C1", "matter_code": "NOT-A-MATTER"}, 422, "不在本窗口的事项清单中"),
        ({"case_no": "C1", "matter_code": MATTER_OTHER_WINDOW}, 422, "不在本窗口的事项清单中"),
        ({"case_no": "C" * 5000}, 400, "请求体过大"),
        (b"{" + b" " * 4096 + b"}", 400, "请求体过大"),
    ],
)
def test_bad_requests_get_a_clear_chinese_error_and_store_nothing(server, flow, outbox, body, status, words):
    before = stored(outbox)
    got_status, answer = request(server, body)
    assert got_status == status
    assert answer["ok"] is False and answer["status"] == status
    assert words in answer["error"]
    assert flow.screen is Screen.IDLE
    assert stored(outbox) == before


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("POST", "/", 404),
        ("POST", "/trigger/extra", 404),
        ("GET", "/ratings", 404),
        ("GET", "/trigger", 405),
        ("PUT", "/trigger", 405),
        ("DELETE", "/trigger", 405),
    ],
)
def test_wrong_path_or_method(server, flow, outbox, method, path, status):
    before = stored(outbox)
    got_status, answer = request(server, {"case_no": "C1"}, method=method, path=path)
    assert got_status == status and answer["status"] == status and answer["error"]
    assert stored(outbox) == before and flow.screen is Screen.IDLE


def test_missing_content_length_is_refused(server, outbox):
    before = stored(outbox)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"POST /trigger HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        reply = sock.makefile("rb").read().decode()
    assert reply.startswith("HTTP/1.0 400") and "Content-Length" in reply
    assert stored(outbox) == before


# ---------------------------------------------------------------- refused by the flow


def test_duplicate_case_is_refused_with_the_reason(server, flow, clock, outbox):
    assert request(server, {"case_no": "C1"})[0] == 200
    rate(flow, clock)
    before = stored(outbox)
    status, answer = request(server, {"case_no": "C1"})
    assert status == 409 and answer["code"] == "duplicate"
    assert answer["error"] == "办件 C1 已评价，不能重复发起"
    assert set(answer) == {"ok", "error", "code", "status"}  # says nothing of the level
    assert stored(outbox) == before and flow.screen is Screen.IDLE


def test_too_soon_is_refused_and_logged(server, flow, clock, outbox, caplog):
    assert request(server, {"case_no": "C1"})[0] == 200
    flow.handle(TapLevel(4))
    flow.handle(Submit())
    clock.advance(5)
    flow.handle(Tick())
    status, answer = request(server, {"case_no": "C2"})
    assert status == 429 and answer["code"] == "too_soon"
    assert "间隔过短" in answer["error"]
    (refused,) = outbox.records(kind="prompt_refused")
    assert refused["case_no"] == "C2"
    assert any("too_soon" in r.getMessage() and "C2" in r.getMessage() for r in caplog.records)
    clock.advance(20)
    assert request(server, {"case_no": "C2"})[0] == 200


def test_busy_while_a_citizen_is_rating(server, flow):
    assert request(server, {"case_no": "C1"})[0] == 200
    status, answer = request(server, {"case_no": "C2"})
    assert status == 409 and answer["code"] == "busy" and "正在评价" in answer["error"]
    assert flow.state.prompt.case_no == "C1"


def test_signed_out_is_refused(hall_config, outbox, clock):
    flow = Flow(hall_config, "A01", outbox, clock, lambda c, n: "http://qr.test/", ADMIN_PIN_HASH)
    server = TriggerServer("127.0.0.1", 0, TOKEN, flow.handle)
    server.start()
    try:
        status, answer = request(server, {"case_no": "C1"})
    finally:
        server.stop()
    assert status == 409 and answer["code"] == "signed_out" and "尚未签到" in answer["error"]
    assert stored(outbox) == []


def test_full_disk_answers_503_and_shows_no_prompt(server, flow, outbox, clock):
    pages = outbox.db.execute("PRAGMA page_count").fetchone()[0]
    outbox.db.execute(f"PRAGMA max_page_count = {pages + 1}")
    for size in (200, 20, 0):  # fill what is left with ever smaller records
        with pytest.raises(OutboxFull):
            for _ in range(10_000):
                outbox.append("pause", clock(), window="A01", detail={"filler": "满" * size})
    before = stored(outbox)
    status, answer = request(server, {"case_no": "C1"})
    assert status == 503 and "存储空间已满" in answer["error"] and answer["code"] == "storage"
    assert flow.screen is Screen.IDLE and stored(outbox) == before
    outbox.db.execute("PRAGMA max_page_count = 1073741823")
    assert request(server, {"case_no": "C1"})[0] == 200


def test_concurrent_triggers_show_exactly_one_prompt(server, flow, outbox):
    statuses: list[int] = []

    def fire(i):
        statuses.append(request(server, {"case_no": f"P{i}"})[0])

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count(200) == 1
    assert set(statuses) <= {200, 409}
    assert len(list(outbox.records(kind="prompt"))) == 1


def test_stop_frees_the_port(flow):
    server = TriggerServer("127.0.0.1", 0, TOKEN, flow.handle)
    server.start()
    port = server.port
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_busy_port_is_a_clear_error(server, flow):
    other = TriggerServer("127.0.0.1", server.port, TOKEN, flow.handle)
    with pytest.raises(KioskError, match=f"触发接口无法监听 127.0.0.1:{server.port}"):
        other.start()
    assert request(server, {"case_no": "C1"})[0] == 200  # the first one still serves


def test_a_server_bound_to_all_addresses_is_reached_on_loopback(flow):
    server = TriggerServer("0.0.0.0", 0, TOKEN, flow.handle)
    server.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/trigger"
        assert request(server, {"case_no": "C1"})[0] == 200
    finally:
        server.stop()


# ---------------------------------------------------------------- hcp kiosk trigger


def write_settings(tmp_path: Path, port: int, token: str = TOKEN) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'window = "A01"\nconfig_dir = "{CONFIG_DIR.as_posix()}"\ndata_dir = "{(tmp_path / "data").as_posix()}"\n'
        f'trigger_host = "127.0.0.1"\ntrigger_port = {port}\ntrigger_token = "{token}"\n'
        f'admin_pin_hash = "{ADMIN_PIN_HASH}"\n',
        encoding="utf-8",
    )
    return path


def hcp(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "hcp"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "haochaping.cli"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=30)


def test_cli_trigger_end_to_end(tmp_path, server, flow, clock):
    settings = write_settings(tmp_path, server.port)
    ok = hcp("kiosk", "--settings", str(settings), "trigger", "--case", "CLI-1", "--matter", MATTER_A01_SECOND)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "已在 A01 窗口发起评价：办件 CLI-1"
    assert flow.screen is Screen.PROMPT and flow.state.prompt.source == "http"
    assert flow.state.prompt.matter_code == MATTER_A01_SECOND

    rate(flow, clock)
    again = hcp("kiosk", "trigger", "--settings", str(settings), "--case", "CLI-1")  # as README and the demo say
    assert again.returncode == 1
    assert again.stderr.strip() == "评价未发起：办件 CLI-1 已评价，不能重复发起"
    assert flow.screen is Screen.IDLE


def test_cli_trigger_with_a_wrong_token(tmp_path, server, flow):
    settings = write_settings(tmp_path, server.port, token="another-token-0123456789")
    result = hcp("kiosk", "--settings", str(settings), "trigger", "--case", "CLI-2")
    assert result.returncode == 1 and "令牌不正确" in result.stderr
    assert flow.screen is Screen.IDLE


def test_cli_trigger_when_the_kiosk_is_not_running(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = write_settings(tmp_path, port)
    result = hcp("kiosk", "--settings", str(settings), "trigger", "--case", "CLI-3")
    assert result.returncode == 2
    assert result.stderr.strip() == f"评价器未运行或无法连接 http://127.0.0.1:{port}/trigger"
    assert "Traceback" not in result.stderr


def test_cli_trigger_with_a_corrupted_settings_file(tmp_path):
    settings = tmp_path / "kiosk.toml"
    settings.write_text('window = "A01"\ntrigger_port = "eighty"\n', encoding="utf-8")
    result = hcp("kiosk", "--settings", str(settings), "trigger", "--case", "CLI-4")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(settings) in line and "配置错误" in line and "Traceback" not in result.stderr


# ---------------------------------------------------------------- barcode wedge


def typed(wedge: BarcodeWedge, clock, keys: str, gap_ms: float, enter_gap_ms: float | None = None):
    """Type ``keys`` then Enter, ``gap_ms`` apart; return what the wedge recognised."""
    results = []
    for ch in keys:
        clock.advance(gap_ms / 1000)
        results.append(wedge.feed(ch))
    clock.advance((gap_ms if enter_gap_ms is None else enter_gap_ms) / 1000)
    results.append(wedge.feed("\r"))
    assert all(r is None for r in results[:-1])
    return results[-1]


@pytest.mark.parametrize(
    "keys, gap_ms, enter_gap_ms, expected",
    [
        ("2026112700001", 8, None, "2026112700001"),  # a scanner
        ("2026112700001", 40, None, "2026112700001"),  # a slow scanner
        ("2026112700001", 150, None, None),  # a person typing
        ("2026112700001", 8, 400, None),  # a person pressing Enter later
        ("C12", 5, None, "C12"),
        ("C1", 5, None, None),  # too short to be a scan
        ("X" * 161, 2, None, None),  # oversized
        ("X" * 160, 2, None, "X" * 160),
        (f"CASE-7|{MATTER_A01_SECOND}", 5, None, f"CASE-7|{MATTER_A01_SECOND}"),
    ],
)
def test_barcode_wedge(clock, keys, gap_ms, enter_gap_ms, expected):
    wedge = BarcodeWedge(clock)
    assert typed(wedge, clock, keys, gap_ms, enter_gap_ms) == expected


def test_barcode_wedge_drops_hand_typing_before_a_scan(clock):
    wedge = BarcodeWedge(clock)
    assert typed(wedge, clock, "abc", 300) is None
    for ch in "hello":  # typed by hand, no Enter
        clock.advance(0.2)
        assert wedge.feed(ch) is None
    clock.advance(1)
    assert typed(wedge, clock, "CASE-9", 5) == "CASE-9"


def test_barcode_wedge_takes_a_whole_burst_at_once_and_crlf(clock):
    wedge = BarcodeWedge(clock)
    clock.advance(1)
    assert wedge.feed("X") is None
    clock.advance(1)
    assert wedge.feed("CASE-10\r\n") == "CASE-10"  # the lone "X" a second earlier was not part of it
    wedge = BarcodeWedge(lambda: 0.0)
    assert wedge.feed("CASE-11\r\n") == "CASE-11"
    assert wedge.feed("\n") is None


def test_barcode_wedge_control_characters_end_nothing(clock):
    wedge = BarcodeWedge(clock)
    for ch in "CASE\x1b123":
        clock.advance(0.005)
        assert wedge.feed(ch) is None
    clock.advance(0.005)
    assert wedge.feed("\n") is None
    assert typed(wedge, clock, "CASE123", 5) == "CASE123"


@pytest.mark.parametrize(
    "text, case_no, matter_code",
    [
        ("2026112700001", "2026112700001", None),
        (f"2026112700001|{MATTER_A01_SECOND}", "2026112700001", MATTER_A01_SECOND),
        ("  C1 | M2  ", "C1", "M2"),
        ("C1|", "C1", None),
        ("C1|M|X", "C1", "M|X"),  # the flow refuses an unknown matter
    ],
)
def test_parse_scan(text, case_no, matter_code):
    assert parse_scan(text) == Trigger(case_no, matter_code, "barcode")


def test_scanned_slip_prompts_the_flow(flow, clock, outbox):
    wedge = BarcodeWedge(clock)
    scanned = typed(wedge, clock, f"SCAN-1|{MATTER_A01_SECOND}", 5)
    flow.handle(parse_scan(scanned))
    assert flow.screen is Screen.PROMPT
    assert (flow.state.prompt.case_no, flow.state.prompt.matter_code) == ("SCAN-1", MATTER_A01_SECOND)
    assert next(outbox.records(kind="prompt"))["detail"] == {"source": "barcode"}
