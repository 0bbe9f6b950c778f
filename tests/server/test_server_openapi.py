"""``/openapi.json`` says exactly what the server does, for the partners that integrate against it (the fuzz test
checks it broadly; these are the cases schemathesis found once, pinned)."""

from __future__ import annotations

from server_helpers import count

from sync_server.storage.schema import devices


def test_a_405_names_every_method_the_path_answers(client):
    answer = client.request("OPTIONS", "/r/AAAA.BBBB")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, POST"
    assert client.request("DELETE", "/api/v1/records").headers["allow"] == "POST"


def test_the_description_carries_formats_patterns_and_media_types(client):
    spec = client.get("/openapi.json").json()
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    assert schemas["RecordIn"]["properties"]["occurred_at"]["format"] == "date-time"
    assert schemas["StatusRequest"]["properties"]["last_sync_at"]["format"] == "date-time"
    assert schemas["EnrolRequest"]["properties"]["code"]["pattern"].startswith("^")
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    page = paths["/r/{token}"]["post"]["responses"]
    assert {code: list(page[code]["content"]) for code in ("200", "400", "403", "409", "410", "422")} == {
        "200": ["text/html"],
        "400": ["text/html"],
        "403": ["text/html"],
        "409": ["text/html"],
        "410": ["text/html"],
        "422": ["application/json"],
    }
    assert "pattern" in paths["/r/{token}"]["get"]["parameters"][0]["schema"]
    closed = paths["/api/v1/cases/closed"]["post"]
    assert closed["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ClosedCaseBatch")
    assert "409" in closed["responses"]


def test_a_status_report_with_a_boolean_offset_is_refused(client, kiosk):
    body = {"outbox_depth": 0, "config_version": "v", "clock_offset_s": False, "app_version": "1"}
    assert kiosk.post("/api/v1/status", body).status_code == 422
    assert kiosk.post("/api/v1/status", {**body, "clock_offset_s": 0, "outbox_depth": True}).status_code == 422
    assert kiosk.post("/api/v1/status", {**body, "clock_offset_s": 0.5, "outbox_depth": 3.0}).status_code == 200


def test_an_unknown_enrolment_code_is_not_found_and_a_malformed_one_is_invalid(client, store):
    unknown = client.post("/api/v1/enroll", json={"code": "AAAA-BBBB-CCCC"})
    assert unknown.status_code == 404 and unknown.json()["error"].startswith("登记码无效")
    assert client.post("/api/v1/enroll", json={"code": "AAAA"}).status_code == 422
    assert count(store, devices) == 0


def test_a_code_shaped_link_that_no_terminal_made_is_invalid_and_a_broken_one_incomplete(client, configured):
    forged = client.get("/r/eyJ2IjoxfQ.AAAA")
    assert forged.status_code == 403 and "二维码无效" in forged.text
    broken = client.get("/r/not-a-token")
    assert broken.status_code == 400 and "链接不完整" in broken.text
