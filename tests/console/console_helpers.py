"""Console test helpers (imported by name, not as ``conftest``, so they coexist with other test folders):
a hall with a hand-made month of ratings whose figures the tests compute by hand.

The data go through the server's own paths (signed-device ingest, the phone rating's store-and-settle, the
default-rating job, an appeal exclusion), so the rollup the dashboard reads is the one ingest maintains.

November 2026 (China time), configuration ``config/`` with the Guangxi rules (default 非常满意 after 7 days):

  case  window clerk  what happened                                     counts as
  C1    A01    1001   kiosk 5                                           effective
  C2    A01    1001   kiosk 5, one second after the prompt              effective (fast: listed for review)
  C3    A01    1002   kiosk 4                                           effective
  C4    A01    1002   kiosk 3                                           effective
  C5    A01    1001   kiosk 1, reason 115, <script> comment, contact    effective (bad)
  C6    A01    1001   prompt, timeout, never rated                      unrated
  C7    A01    1002   kiosk 2, excluded by an upheld appeal             excluded
  C8    A01    1001   kiosk 5, then phone 4                             effective + 追评 (follow_up)
  C9    B03    1003   kiosk 4                                           effective
  C10   B03    1003   kiosk 2, reason 213                               effective (bad)
  C11   B03    1003   prompt only → 系统默认评价 5                        effective (default), unrated case
  C12   B03    1003   kiosk 5 marked test                               test
  C13   C05    1004   phone 5                                           effective
  C14   C05    1004   default 5, then phone 4                           phone effective, default superseded
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testkit import ChainedRecords, FakeClock, iso  # noqa: F401 - FakeClock is the console tests' clock

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"
MATTER_SC = "11450102MB1234567X4000111"
MATTER_RS = "11450102MB7654321Y3000201"
MATTER_BDC = "11450102MB5555555Z2000301"
SCRIPT_COMMENT = "<script>alert('x')</script>态度差"
CONTACT = "13812341234"
CONTACT_KEY = "9dcKv8x1Yp0XlQyFa3n8rS2b0zY3j8m5b7XQm2cYt0w="  # the tests' contact_key (server_helpers.TEST_CONTACT_KEY)
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 2026-11-28 10:00 China time
NOV_CASES_EFFECTIVE = {"C1", "C2", "C3", "C4", "C5", "C8", "C9", "C10", "C11", "C13", "C14"}
PASSWORDS = {
    "admin": "admin-pass-1",
    "sc_reviewer": "sc-pass-123",
    "rs_reviewer": "rs-pass-123",
    "duchá": "sup-pass-12",
}


def _load_server_conftest():
    path = ROOT / "tests" / "server" / "server_helpers.py"
    spec = importlib.util.spec_from_file_location("hcp_server_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_server = _load_server_conftest()
server_process = _server.server_process


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """A moment of November 2026, China time."""
    return datetime(2026, 11, day, hour - 8, minute, second, tzinfo=UTC)


class Terminal(ChainedRecords):
    """Makes chained records as one kiosk would, a whole case at a time."""

    def case(
        self,
        case_no: str,
        clerk: str,
        matter: str,
        prompted: datetime,
        level: int | None = None,
        rated: datetime | None = None,
        mobile: str | None = None,
        **rating_fields,
    ) -> list[dict]:
        """The prompt, the rating when ``level`` is given, and the number the citizen left after it (``mobile``)."""
        common = dict(case_no=case_no, clerk_no=clerk, matter_code=matter)
        out = [self.record("prompt", prompted, **common)]
        if level is not None:
            at = rated or prompted + timedelta(seconds=20)
            rating = self.record("rating", at, level=level, prompted_at=iso(prompted), **common, **rating_fields)
            out.append(rating)
            if mobile is not None:
                detail = {"mobile": mobile, "rating": rating["id"]}
                out.append(self.record("contact", at + timedelta(seconds=10), detail=detail, **common))
        return out


@dataclass
class Hall:
    store: object
    devices: dict[str, str] = field(default_factory=dict)  # window -> device id
    ids: dict[str, str] = field(default_factory=dict)  # case -> its counting (or named) rating id


def phone_rating(
    store, device_id: str, window: str, case_no: str, clerk: str, matter: str, level: int, when: datetime, **extra
) -> str:
    """Store a 二维码 rating the way the QR page does: record, case, settle, in one transaction."""
    from sync_server.ratings import server_record, store_server_records

    rec = server_record(
        id=f"qr:{case_no}",
        kind="rating",
        device_id=device_id,
        window=window,
        clerk_no=clerk,
        case_no=case_no,
        matter_code=matter,
        level=level,
        channel=3,
        occurred_at=iso(when),
        reasons_version="national-2019-v1",
        **extra,
    )
    with store.write() as conn:
        store_server_records(store, conn, [rec], "qr", iso(when))
    return rec["id"]


def seed_hall(store, with_users: bool = True) -> Hall:
    """The month of the module docstring, through the server's own paths; users for every role."""
    from sync_server.configs import import_config
    from sync_server.console.accounts import add_user
    from sync_server.contact import ContactCipher
    from sync_server.devices import add_enrolment_code, enrol
    from sync_server.ingest import ingest
    from sync_server.ratings import apply_default_ratings
    from sync_server.storage.exclusions import exclude_rating

    import_config(store, CONFIG_DIR, "rules/guangxi.toml", at(1, 8))
    hall = Hall(store)
    terms = {}
    for window in ("A01", "B03", "C05"):
        code, _ = add_enrolment_code(store, window, at(1, 8))
        device = enrol(store, code, at(1, 8, 5))
        hall.devices[window] = device.id
        terms[window] = Terminal(device.id, window)
    a, b, c = terms["A01"], terms["B03"], terms["C05"]
    batch_a = (
        a.case("C1", "1001", MATTER_SC, at(2, 9), 5)
        + a.case("C2", "1001", MATTER_SC, at(2, 10), 5, rated=at(2, 10, 0, 1))
        + a.case("C3", "1002", MATTER_SC, at(3, 9), 4)
        + a.case("C4", "1002", MATTER_SC, at(3, 10), 3)
        + a.case("C5", "1001", MATTER_SC, at(4, 9), 1, reasons=[115], comment=SCRIPT_COMMENT, mobile=CONTACT)
        + a.case("C7", "1002", MATTER_SC, at(5, 9), 2, reasons=[214])
        + a.case("C8", "1001", MATTER_SC, at(6, 9), 5)
    )
    batch_b = (
        b.case("C9", "1003", MATTER_RS, at(2, 9), 4)
        + b.case("C10", "1003", MATTER_RS, at(3, 9), 2, reasons=[213])
        + b.case("C11", "1003", MATTER_RS, at(3, 11))
        + b.case("C12", "1003", MATTER_RS, at(4, 9), 5, detail={"test": True})
    )
    batch_c = c.case("C13", "1004", MATTER_BDC, at(3, 9)) + c.case("C14", "1004", MATTER_BDC, at(3, 10))
    for window, batch in (("A01", batch_a), ("B03", batch_b), ("C05", batch_c)):
        results = ingest(store, hall.devices[window], batch, at(7, 9), cipher=ContactCipher(CONTACT_KEY))
        assert {s for _, s in results} == {"stored"}
        for rec in batch:
            if rec["kind"] == "rating":
                hall.ids[rec["case_no"]] = rec["id"]
    hall.ids["C13"] = phone_rating(store, hall.devices["C05"], "C05", "C13", "1004", MATTER_BDC, 5, at(5, 15))
    hall.ids["C8-follow-up"] = phone_rating(store, hall.devices["A01"], "A01", "C8", "1001", MATTER_SC, 4, at(7, 15))
    assert sorted(apply_default_ratings(store, at(12, 9))) == ["C11", "C14"]
    hall.ids["C11"], hall.ids["C14-default"] = "default:C11", "default:C14"
    hall.ids["C14"] = phone_rating(store, hall.devices["C05"], "C05", "C14", "1004", MATTER_BDC, 4, at(13, 15))
    with store.write() as conn:
        exclude_rating(conn, hall.ids["C7"], "申诉成立：群众误评（复核通过）", at(20, 9), appeal_id="AP-1")
    late = a.case("C6", "1001", MATTER_SC, at(25, 9)) + [a.record("timeout", at(25, 9, 1), case_no="C6")]
    ingest(store, hall.devices["A01"], late, at(25, 10))
    if not with_users:
        return hall
    for name, role, dept in (
        ("admin", "admin", None),
        ("sc_reviewer", "reviewer", "SC"),
        ("rs_reviewer", "reviewer", "RS"),
        ("duchá", "supervisor", None),
    ):
        add_user(store, name, role, PASSWORDS[name], at(1, 8), "test", department=dept)
    return hall


def login_token(client) -> str:
    page = client.get("/console/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client, username: str, password: str | None = None):
    token = login_token(client)
    return client.post(
        "/console/login",
        data={"username": username, "password": password or PASSWORDS[username], "csrf_token": token, "next": ""},
        follow_redirects=False,
    )


def csrf_of(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)
