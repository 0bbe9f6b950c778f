"""The QR phone rating page: ``GET /r/{token}`` shows the case and the five levels, ``POST /r/{token}`` stores a
channel-3 (二维码) rating and thanks the citizen.

The token is signed with the terminal's secret (``haochaping.qrtoken``), so a phone can rate a case the server
has not heard of yet; the page then shows what the token gives (case number, the device's window).

Phone ratings live in the ``records`` table with ``source = 'qr'``, ``seq`` NULL (they are no part of a device's
chain) and the id ``qr:<case_no>`` (so a case can get at most one phone rating, even from two racing submits).

CSRF: the form is public and the credential is the QR token in the URL, which a cross-site attacker does not
have. Each rendered form also carries a form nonce, ``<issued unix time>.<HMAC(device secret, case, time)>``,
that the POST must return within ``qr_form_ttl_s``: a POST that did not come from a page this server rendered
for this case is refused. The nonce needs no storage (showing the page writes nothing, which keeps the page
fast for a hall full of phones); a second submission is refused by the one-rating-per-case id above.

The phone mark: the page sets a first-party cookie ``hcp_phone`` (a random opaque id, HttpOnly, SameSite=Lax, path
``/r``, 400 days, Secure over HTTPS) and a phone rating stores its SHA-256 (``detail.phone``, 16 hex digits), never
the id itself and nothing about the person. The integrity page counts the cases one phone rated (one phone rating
many cases is a 刷好评 signal of 篇5【篇三】); no rating is ever refused for it, and a phone without the cookie rates
as any other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import Row
from starlette.concurrency import run_in_threadpool

from haochaping.config import HallConfig, Rules
from haochaping.errors import TokenError, TokenExpired, TokenForged
from haochaping.levels import CHANNEL_QR, COMMENT_MAX_CHARS, LEVELS_BEST_FIRST, Level
from haochaping.qrtoken import MAX_TOKEN_CHARS, QrClaims, read_claims, verify_token
from sync_server.configs import ConfigVersion, config_version, current_config
from sync_server.contact import ContactCipher, ContactInvalid, contact_row, mask_mobile, normalise_mobile
from sync_server.db import Store
from sync_server.errors import ServerError
from sync_server.ratings import server_record, store_server_records
from sync_server.storage.cases import PageLookup, device_and_case, qr_page_lookup
from sync_server.storage.contacts import add_contacts
from sync_server.storage.schema import utc_iso

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,  # templates ship with the package: no file check on every page
)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class PageProblem(ServerError):
    """The phone page's own refusal (a bad, expired or rated case): a clear page instead of the form, with its
    status, title and message. A ``ServerError``, so ``HaochapingError`` is the root of it too."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title = status, title


@dataclass(frozen=True)
class CaseView:
    """What the phone page shows about the case."""

    claims: QrClaims
    secret: bytes
    window: str | None
    window_name: str
    matter_code: str | None
    matter_name: str
    clerk_no: str | None
    clerk_name: str
    prompted_at: str
    hall_name: str
    config: HallConfig | None
    config_version: str


def render(name: str, status: int = 200, **context) -> HTMLResponse:
    html = TEMPLATES.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def problem_page(p: PageProblem, hall_name: str = "") -> HTMLResponse:
    return render("problem.html", p.status, title=p.title, message=p.message, hall_name=hall_name)


# ---------------------------------------------------------------- reading the token and the case


def load_case(conn, token: str, now: datetime) -> CaseView:
    """Verify the token and gather what the page shows, inside the caller's transaction (the form's POST);
    PageProblem for a bad, expired or rated case."""
    return _verified_case(token, now, lambda device_id, case_no: _in_transaction(conn, device_id, case_no))


def load_page_case(store: Store, token: str, now: datetime) -> CaseView:
    """``load_case`` for the page a phone opens: the device, the case, whether it is rated and the configuration
    in force come from ONE statement outside any transaction (the busiest read: a queue of phones at once)."""
    return _verified_case(token, now, lambda device_id, case_no: _in_one_statement(store, device_id, case_no))


def _in_transaction(conn, device_id: str, case_no: str) -> tuple[Row | None, ConfigVersion | None]:
    return device_and_case(conn, device_id, case_no), current_config(conn)


def _in_one_statement(store: Store, device_id: str, case_no: str) -> tuple[PageLookup | None, ConfigVersion | None]:
    row = qr_page_lookup(store, device_id, case_no)
    if row is None:
        return None, None
    return row, config_version(store, row.config_id, row.config_version, row.config_imported_at)


Lookup = Callable[[str, str], tuple["Row | PageLookup | None", "ConfigVersion | None"]]


def _verified_case(token: str, now: datetime, lookup: Lookup) -> CaseView:
    try:
        claimed = read_claims(token)
    except TokenError:
        raise _bad_link(token) from None
    row, cv = lookup(claimed.device_id, claimed.case_no)  # (None, None) for an unknown device: forged below
    rules = cv.config.rules if cv else Rules()

    def secret_for(_device_id: str) -> bytes | None:
        if row is None or (row.revoked_at and claimed.issued_at >= datetime.fromisoformat(row.revoked_at)):
            return None  # a revoked terminal's secret may be in other hands: only codes it made before count
        return bytes.fromhex(row.secret_hex)

    try:
        claims = verify_token(token, secret_for, now, timedelta(days=rules.qr_valid_days))
    except TokenExpired:
        raise PageProblem(410, "评价已过期", f"本办件的扫码评价有效期为 {rules.qr_valid_days} 天，现已过期。") from None
    except TokenForged:
        raise PageProblem(403, "二维码无效", "无法确认该二维码来自本中心的评价器，请以窗口显示的二维码为准。") from None
    except TokenError:
        raise _bad_link(token) from None
    if row.rated:
        raise PageProblem(409, "该办件已评价", f"办件 {claims.case_no} 已完成评价，感谢您的参与。")
    return _case_view(claims, row, cv)


def _bad_link(token: str) -> PageProblem:
    if TOKEN_SHAPE.match(token):  # shaped like a code, but not one a terminal made
        return PageProblem(403, "二维码无效", "无法确认该二维码来自本中心的评价器，请以窗口显示的二维码为准。")
    return PageProblem(400, "链接不完整", "二维码链接不完整或格式不正确，请重新扫描窗口的二维码。")


def _case_view(claims: QrClaims, row: Row, cv: ConfigVersion | None) -> CaseView:
    config = cv.config if cv else None
    window = row.case_window or row.device_window
    matter_code, clerk_no = row.matter_code, row.clerk_no
    return CaseView(
        claims=claims,
        secret=bytes.fromhex(row.secret_hex),
        window=window,
        window_name=_name(config, "window", window, lambda w: w.name if w.code in w.name else f"{w.code} {w.name}")
        or (window or "—"),
        matter_code=matter_code,
        matter_name=_name(config, "matter", matter_code, lambda m: m.name) or (matter_code or "以窗口办理的事项为准"),
        clerk_no=clerk_no,
        clerk_name=_name(config, "clerk", clerk_no, lambda c: f"{c.name}（工号 {c.no}）") or (clerk_no or "—"),
        prompted_at=row.prompted_at or utc_iso(claims.issued_at),
        hall_name=config.hall.name if config else "",
        config=config,
        config_version=cv.version if cv else "",
    )


def _name(config: HallConfig | None, kind: str, key: str | None, fmt) -> str | None:
    if config is None or key is None:
        return None
    try:
        return fmt(getattr(config.hall, kind)(key))
    except KeyError:
        return None


# ---------------------------------------------------------------- the form


def _levels(config: HallConfig | None) -> list[dict]:
    reasons = config.reasons if config else None
    return [
        {
            "code": int(level),
            "label": level.label,
            "bad": level.is_bad,
            "reasons": reasons.for_level(level) if reasons else [],
        }
        for level in LEVELS_BEST_FIRST
    ]


def _nonce_mac(secret: bytes, case_no: str, issued: int) -> str:
    return hmac.new(secret, f"qr-form|{case_no}|{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def form_nonce(view: CaseView, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{issued}.{_nonce_mac(view.secret, view.claims.case_no, issued)}"


def nonce_valid(view: CaseView, nonce: str, now: datetime, ttl_s: int) -> bool:
    """True for a nonce this server made for this case, no older than ``ttl_s``."""
    issued, _, mac = nonce.partition(".")
    if not issued.isdigit() or not hmac.compare_digest(mac, _nonce_mac(view.secret, view.claims.case_no, int(issued))):
        return False
    return 0 <= now.timestamp() - int(issued) <= ttl_s


_CHOICES: dict[str, Markup] = {}  # config version -> the untouched levels-and-reasons block


def _choices(view: CaseView, level: int | None, reasons) -> Markup:
    pristine = level is None and not reasons
    if pristine and view.config_version in _CHOICES:
        return _CHOICES[view.config_version]
    html = TEMPLATES.get_template("_choices.html").render(
        levels=_levels(view.config), chosen_level=level, chosen_reasons=reasons
    )
    if pristine:
        _CHOICES[view.config_version] = Markup(html)
    return Markup(html)


@dataclass(frozen=True)
class ContactOffer:
    """The optional mobile number field after a bad level (rules ``contact.offer``, and a key to encrypt with)."""

    consent: str
    mobile: str = ""  # as typed, shown again with its error
    error: str = ""


def contact_offer(view: CaseView, cipher: ContactCipher | None) -> ContactOffer | None:
    rules = view.config.rules if view.config else Rules()
    return ContactOffer(rules.contact.consent) if rules.contact.offer and cipher is not None else None


def form_page(
    view: CaseView, nonce: str, status: int = 200, message: str = "", offer: ContactOffer | None = None, **chosen
) -> HTMLResponse:
    return render(
        "rate.html",
        status,
        case_no=view.claims.case_no,
        matter_name=view.matter_name,
        window_name=view.window_name,
        clerk_name=view.clerk_name,
        hall_name=view.hall_name,
        choices=_choices(view, chosen.get("level"), chosen.get("reasons", ())),
        nonce=nonce,
        message=message,
        comment_max=COMMENT_MAX_CHARS,
        comment=chosen.get("comment", ""),
        offer=offer,
    )


@dataclass(frozen=True)
class PhoneRating:
    level: int
    reasons: list[int]
    comment: str | None


def parse_form(view: CaseView, level: str, reasons: list[str], comment: str) -> PhoneRating:
    """Check the submitted form as strictly as the kiosk does; ValueError carries the Chinese message."""
    if level not in {str(int(lv)) for lv in Level}:
        raise ValueError("请选择一个评价等级")
    chosen = Level(int(level))
    try:
        codes = sorted({int(r) for r in reasons})
    except ValueError:
        raise ValueError("评价内容不正确，请重新选择") from None
    allowed = {r.code for r in view.config.reasons.for_level(chosen)} if view.config else set()
    if any(c not in allowed for c in codes):
        raise ValueError(f"所选评价内容与“{chosen.label}”不符，请只选择该等级下的内容")
    if chosen.is_bad and not codes:
        raise ValueError("选择“不满意”或“非常不满意”时，请至少选择一项原因")
    text = comment.replace("\r\n", "\n").strip()
    if len(text) > COMMENT_MAX_CHARS:
        raise ValueError(f"意见建议最多 {COMMENT_MAX_CHARS} 字，当前 {len(text)} 字")
    return PhoneRating(int(chosen), codes, text or None)


def parse_mobile(rating: PhoneRating, typed: str, offer: ContactOffer | None) -> str | None:
    """The number left with a bad rating (None: left empty, not offered, or not a bad rating); ContactInvalid."""
    if offer is None or not Level(rating.level).is_bad:
        return None
    return normalise_mobile(typed)


PHONE_COOKIE = "hcp_phone"
PHONE_COOKIE_MAX_AGE_S = 400 * 86400  # the longest a browser keeps a cookie
_PHONE_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def phone_id(request: Request) -> str | None:
    """The phone's opaque id from its cookie, or None (no cookie, or not one this page set)."""
    value = request.cookies.get(PHONE_COOKIE, "")
    return value if _PHONE_ID.match(value) else None


def phone_key(phone: str) -> str:
    """What a rating stores of the phone: a hash of the random id (no personal data)."""
    return hashlib.sha256(f"hcp-phone|{phone}".encode()).hexdigest()[:16]


def with_phone_cookie(request: Request, response: HTMLResponse, phone: str | None) -> HTMLResponse:
    """Give a phone without the cookie a new random id (the same one kept by ``phone`` when it is new)."""
    if phone_id(request) is None:
        response.set_cookie(
            PHONE_COOKIE,
            phone or secrets.token_urlsafe(24),
            max_age=PHONE_COOKIE_MAX_AGE_S,
            path="/r",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def store_rating(
    store: Store,
    conn,
    view: CaseView,
    rating: PhoneRating,
    now: datetime,
    mobile: str | None = None,
    cipher: ContactCipher | None = None,
    phone: str | None = None,
) -> None:
    """Store the channel-3 rating (at most one per case), and the number left with it encrypted, in the caller's
    transaction; ``phone``: the phone's opaque id (only its hash is kept with the rating)."""
    rec = _phone_record(view, rating, now, phone)
    if not store_server_records(store, conn, [rec], "qr", utc_iso(now)):
        raise PageProblem(409, "该办件已评价", f"办件 {view.claims.case_no} 已完成评价，感谢您的参与。")
    if mobile is not None:
        row = contact_row(
            cipher, mobile, record_id=rec["id"], case_no=view.claims.case_no, rating_id=rec["id"], source="qr",
            given_at=rec["occurred_at"], stored_at=utc_iso(now),
        )  # fmt: skip
        add_contacts(store, conn, [row])


def _phone_record(view: CaseView, rating: PhoneRating, now: datetime, phone: str | None = None) -> dict:
    detail = {"token_issued_at": utc_iso(view.claims.issued_at)}
    if phone:
        detail["phone"] = phone_key(phone)
    return server_record(
        id=f"qr:{view.claims.case_no}",
        kind="rating",
        device_id=view.claims.device_id,
        window=view.window,
        clerk_no=view.clerk_no,
        case_no=view.claims.case_no,
        matter_code=view.matter_code,
        level=rating.level,
        reasons=rating.reasons,
        reasons_version=view.config.reasons.version if view.config else None,
        comment=rating.comment,
        channel=CHANNEL_QR,
        prompted_at=view.prompted_at,
        occurred_at=utc_iso(now),
        detail=detail,
    )


# ---------------------------------------------------------------- routes


def _hall_name(store: Store) -> str:
    with store.read() as conn:
        cv = current_config(conn)
    return cv.config.hall.name if cv else ""


TOKEN_SHAPE = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_TOKEN_CHARS}}}\.[A-Za-z0-9_-]{{1,{MAX_TOKEN_CHARS}}}$")
# The pattern is described, not enforced by FastAPI: a broken link gets the page below, not a JSON error.
Token = Annotated[
    str,
    PathParam(
        description="窗口评价器二维码中的签名令牌（<内容>.<签名>，base64url）",
        json_schema_extra={"pattern": TOKEN_SHAPE.pattern, "maxLength": MAX_TOKEN_CHARS},
    ),
]
_HTML = {"text/html": {"schema": {"type": "string"}}}
PAGE_ANSWERS = {
    400: {"description": "链接不完整，或提交的选择不符合要求（页面说明）", "content": _HTML},
    403: {"description": "二维码无效：不是本中心评价器生成的", "content": _HTML},
    409: {"description": "该办件已评价，或表单已失效需重新提交", "content": _HTML},
    410: {"description": "评价已过期", "content": _HTML},
    422: {  # FastAPI checks the field lengths before the page is made: the API's one error shape
        "description": "表单字段超出长度",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    },
}


def qr_router() -> APIRouter:
    router = APIRouter(tags=["扫码评价"])

    @router.get("/r/{token}", response_class=HTMLResponse, summary="扫码评价页面", responses=PAGE_ANSWERS)
    async def rating_page(token: Token, request: Request):
        # On SQLite the page is made on the event loop, not in a worker thread: its one compiled statement on a
        # local file takes a fraction of a millisecond, less than handing the request to a thread, and a queue
        # of phones scanning at once is served about twice as fast without threads contending for the
        # interpreter. A networked database could stall, so PostgreSQL keeps the worker threads.
        if request.app.state.store.dialect == "sqlite":
            return _rating_page(request, token)
        return await run_in_threadpool(_rating_page, request, token)

    @router.post("/r/{token}", response_class=HTMLResponse, summary="提交扫码评价", responses=PAGE_ANSWERS)
    def submit_rating(
        token: Token,
        request: Request,
        level: str = Form(default="", max_length=8),
        reasons: list[str] = Form(default=[]),  # noqa: B008 - FastAPI's way to declare form fields
        comment: str = Form(default="", max_length=2000),
        nonce: str = Form(default="", max_length=64),
        mobile: str = Form(default="", max_length=32),
    ):
        return _submit(request, token, PhoneForm(level, reasons, comment, nonce, mobile))

    return router


def _rating_page(request: Request, token: str) -> HTMLResponse:
    store, now = request.app.state.store, request.app.state.clock()
    try:
        view = load_page_case(store, token, now)
    except PageProblem as p:
        return problem_page(p, _hall_name(store))
    page = form_page(view, form_nonce(view, now), offer=contact_offer(view, request.app.state.contact_cipher))
    return with_phone_cookie(request, page, None)


@dataclass(frozen=True)
class PhoneForm:
    """The submitted fields, as typed."""

    level: str
    reasons: list[str]
    comment: str
    nonce: str
    mobile: str

    def chosen(self) -> dict:
        """What the citizen chose, to show the form again with it kept."""
        return {
            "level": int(self.level) if self.level.isdigit() else None,
            "comment": self.comment[:COMMENT_MAX_CHARS],
            "reasons": [int(r) for r in self.reasons if r.isdigit()],
        }


def _submit(request: Request, token: str, form: PhoneForm) -> HTMLResponse:
    state = request.app.state
    store, now, cipher = state.store, state.clock(), state.contact_cipher
    phone = phone_id(request) or secrets.token_urlsafe(24)  # a phone that refused the cookie still rates
    try:
        with store.write() as conn:
            view = load_case(conn, token, now)
            offer = contact_offer(view, cipher)
            kept = ContactOffer(offer.consent, form.mobile[:20]) if offer else None
            if not nonce_valid(view, form.nonce, now, state.settings.qr_form_ttl_s):
                again = form_nonce(view, now)
                return form_page(view, again, 409, "页面已失效，请重新选择后提交", kept, **form.chosen())
            try:
                rating = parse_form(view, form.level, form.reasons[:32], form.comment)
            except ValueError as e:
                return form_page(view, form.nonce, 400, str(e), kept, **form.chosen())
            try:
                mobile = parse_mobile(rating, form.mobile, offer)
            except ContactInvalid as e:
                wrong = ContactOffer(offer.consent, form.mobile[:20], e.message)
                return form_page(view, form.nonce, 400, "", wrong, **form.chosen())
            store_rating(store, conn, view, rating, now, mobile, cipher, phone)
    except PageProblem as p:
        return problem_page(p, _hall_name(store))
    thanks = render(
        "thanks.html",
        level_label=Level(rating.level).label,
        case_no=view.claims.case_no,
        bad=Level(rating.level).is_bad,
        hall_name=view.hall_name,
        masked=mask_mobile(mobile) if mobile else "",
    )
    return with_phone_cookie(request, thanks, phone)
