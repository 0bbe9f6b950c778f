"""The kiosk's screen flow as a plain state machine: events in, screens and stored records out.

No Kivy here. Time comes from an injected clock; records go to an injected outbox (anything with
``append``, ``case_status`` and ``last_prompt_at``). Tests drive it with events and read back
``flow.screen``; the Kivy view listens for changes and draws ``flow.state``.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from haochaping.config import Clerk, HallConfig
from haochaping.errors import MobileInvalid
from haochaping.levels import Level
from haochaping.mobile import MOBILE_DIGITS, normalise_mobile
from haochaping.pins import verify_pin
from kiosk.errors import TriggerRefused

CASE_NO_PATTERN = re.compile(r"^[0-9A-Za-z\-_/.]{1,64}$")
SIGN_IN_MAX_FAILURES = 5
SIGN_IN_LOCKOUT = timedelta(minutes=5)
STAFF_SCREEN_TIMEOUT = timedelta(seconds=60)
NOTICE_SHOWN = timedelta(seconds=6)  # a notice on the idle screen (未评价，已超时 …) clears after this long
# A phone rating heard while the five levels are on screen ends the prompt only after this long: until then the
# levels stay, with a notice, so a citizen who did not rate by phone (someone else scanned the QR) can still tap,
# and that tap counts (the server makes the phone rating the 追评).
PHONE_HEARD_GRACE = timedelta(seconds=10)
PHONE_HEARD_NOTICE = "已收到手机评价。如不是您本人所评，请直接点选"
PHONE_THANKS = "已收到您的手机评价，谢谢"


class Screen(StrEnum):
    SIGNED_OUT = "signed_out"
    IDLE = "idle"
    PROMPT = "prompt"
    REASONS = "reasons"
    CONTACT = "contact"
    THANKS = "thanks"
    PAUSED = "paused"
    STAFF_PIN = "staff_pin"
    STAFF_MENU = "staff_menu"
    CASE_ENTRY = "case_entry"
    ADMIN_PIN = "admin_pin"
    MAINTENANCE = "maintenance"


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class SignIn:
    clerk_no: str
    pin: str


@dataclass(frozen=True)
class Trigger:
    case_no: str
    matter_code: str | None = None
    source: str = "staff"  # http | cli | barcode | staff | server


@dataclass(frozen=True)
class TapLevel:
    level: int


@dataclass(frozen=True)
class ToggleReason:
    code: int


@dataclass(frozen=True)
class Submit:
    pass


@dataclass(frozen=True)
class Reselect:
    """返回重选 on the reasons screen: back to the five levels, the countdown kept (误操作 is undone, not rated)."""


@dataclass(frozen=True)
class ContactKey:
    """A key of the contact screen's keypad: a digit "0"–"9", or "back" (删除) to take the last one away."""

    key: str


@dataclass(frozen=True)
class ContactConfirm:
    """确定 on the contact screen: store the typed number (if it is a mobile number), then 谢谢."""


@dataclass(frozen=True)
class ContactSkip:
    """跳过 on the contact screen: no number, straight to 谢谢."""


@dataclass(frozen=True)
class RatedByPhone:
    """The server says this case was rated by phone (QR) while its prompt is on this screen."""

    case_no: str


@dataclass(frozen=True)
class Tick:
    """The clock moved; fires timeouts that are due."""


@dataclass(frozen=True)
class StaffHold:
    """Press-and-hold on the clerk card (idle) or on the paused screen."""


@dataclass(frozen=True)
class StaffPin:
    pin: str


@dataclass(frozen=True)
class StaffChoose:
    action: str  # trigger | pause | sign_out | maintenance


@dataclass(frozen=True)
class AdminAccess:
    """Ask for the administrator PIN (from the signed-out screen or the staff menu)."""


@dataclass(frozen=True)
class AdminPin:
    pin: str


@dataclass(frozen=True)
class Back:
    """Leave a staff or maintenance screen without doing anything."""


@dataclass(frozen=True)
class ToggleLargeText:
    pass


@dataclass(frozen=True)
class NewConfig:
    """A newer hall configuration (pulled from the server): applied at the next idle moment, never mid-rating."""

    config: HallConfig


# ---------------------------------------------------------------- state


@dataclass(frozen=True)
class ActivePrompt:
    case_no: str
    matter_code: str
    matter_name: str
    prompted_at: datetime
    qr_url: str
    source: str
    after_interruption: bool = False  # the case's prompt was cut off by a power cut or crash; this is its one retry


@dataclass(frozen=True)
class FlowState:
    screen: Screen = Screen.SIGNED_OUT
    clerk: Clerk | None = None
    prompt: ActivePrompt | None = None
    level: int | None = None
    tapped_at: datetime | None = None  # when the citizen tapped the level: a good rating left on the reasons screen
    withdrawn: tuple[int, ...] = ()  # levels tapped then taken back with 返回重选, kept on the outcome's record
    reasons: tuple[int, ...] = ()
    deadline: datetime | None = None
    rating_id: str | None = None  # the 差评 just stored, while its contact screen is up
    contact: str = field(default="", repr=False)  # digits typed on the contact screen: never in a log or repr
    message: str = ""
    large_text: bool = False
    paused_from: Screen | None = None
    phone_heard_at: datetime | None = None  # a phone rating of the case on screen was heard (the grace runs)


@dataclass
class _SignInGuard:
    failures: int = 0
    locked_until: datetime | None = None


@dataclass
class Flow:
    """The screens of one window's terminal. Thread-safe: every event is handled under a lock."""

    config: HallConfig
    window_code: str
    outbox: object
    clock: Callable[[], datetime]
    qr_url_for: Callable[[str, datetime], str]
    admin_pin_hash: str
    channel: int = 4
    large_text_default: bool = False
    state: FlowState = field(default_factory=FlowState)
    listeners: list[Callable[[FlowState], None]] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.RLock()
        self._guard = _SignInGuard()
        self.window = self.config.hall.window(self.window_code)
        self._pending_config: HallConfig | None = None
        self.state = replace(self.state, large_text=self.large_text_default)

    @property
    def screen(self) -> Screen:
        return self.state.screen

    # ------------------------------------------------------------ dispatch

    def handle(self, event) -> FlowState:
        """Apply one event. Raises TriggerRefused for a refused trigger; other events never raise
        for user mistakes (the message says what was wrong)."""
        with self._lock:
            before = self.state
            handler = getattr(self, "_on_" + type(event).__name__)
            handler(event)
            self._apply_pending_config()
            after = self.state
        if after is not before:
            for listener in list(self.listeners):
                listener(after)
        return after

    def _set(self, **changes) -> None:
        self.state = replace(self.state, **changes)

    def _go(self, screen: Screen, timeout: timedelta | None = None, **changes) -> None:
        deadline = self.clock() + timeout if timeout else None
        self._set(screen=screen, deadline=deadline, **changes)

    def _record(self, kind: str, at: datetime | None = None, **fields) -> dict:
        clerk = self.state.clerk
        return self.outbox.append(
            kind,
            at or self.clock(),
            window=self.window_code,
            clerk_no=clerk.no if clerk else None,
            **fields,
        )

    # ------------------------------------------------------------ sign in / out

    def _on_SignIn(self, e: SignIn) -> None:
        if self.screen is not Screen.SIGNED_OUT:
            return
        now = self.clock()
        if self._guard.locked_until and now < self._guard.locked_until:
            self._set(message="输错次数过多，请 5 分钟后再试")
            return
        clerk = next((c for c in self.config.hall.clerks if c.no == e.clerk_no.strip()), None)
        if clerk is None or not verify_pin(e.pin, clerk.pin_hash):
            self._guard.failures += 1
            if self._guard.failures >= SIGN_IN_MAX_FAILURES:
                self._guard = _SignInGuard(0, now + SIGN_IN_LOCKOUT)
            self._set(message="工号或 PIN 不正确")
            return
        self._guard = _SignInGuard()
        self._set(clerk=clerk)
        self._record("sign_in")
        self._go(Screen.IDLE, message="")

    def _sign_out(self) -> None:
        self._record("sign_out")
        self._go(Screen.SIGNED_OUT, clerk=None, message="")

    # ------------------------------------------------------------ prompting

    def _on_Trigger(self, e: Trigger) -> None:
        prompt = self._check_trigger(e)
        self._record(
            "prompt",
            case_no=prompt.case_no,
            matter_code=prompt.matter_code,
            channel=self.channel,
            prompted_at=self._iso(prompt.prompted_at),
            detail={"source": e.source, **({"after_interruption": True} if prompt.after_interruption else {})},
        )
        self._go(
            Screen.PROMPT,
            timedelta(seconds=self.config.rules.prompt_timeout_s),
            prompt=prompt,
            level=None,
            tapped_at=None,
            withdrawn=(),
            reasons=(),
            phone_heard_at=None,
            message="",
        )

    def _check_trigger(self, e: Trigger) -> ActivePrompt:
        """Decide whether a prompt may be shown; raise TriggerRefused with the reason if not."""
        screen = self.screen
        if screen is Screen.SIGNED_OUT:
            raise TriggerRefused("本窗口尚未签到，不能发起评价", "signed_out")
        if screen is Screen.PAUSED:
            raise TriggerRefused("本窗口暂停服务中，不能发起评价", "paused")
        if screen in (Screen.PROMPT, Screen.REASONS, Screen.CONTACT):
            raise TriggerRefused("上一位群众正在评价，请稍后", "busy")
        if screen in (Screen.ADMIN_PIN, Screen.MAINTENANCE):
            raise TriggerRefused("评价器维护中，不能发起评价", "maintenance")
        case_no = (e.case_no or "").strip()
        if not CASE_NO_PATTERN.match(case_no):
            raise TriggerRefused("办件编号格式不正确（1–64 位字母、数字或 - _ / .）", "bad_case")
        matter_code = e.matter_code or self.window.matters[0]
        if matter_code not in self.window.matters:
            raise TriggerRefused(f"事项 {matter_code} 不在本窗口的事项清单中", "unknown_matter")
        now = self.clock()
        again = self._refuse_if_done(case_no, now)
        self._refuse_if_too_soon(case_no, matter_code, now)
        return ActivePrompt(
            case_no=case_no,
            matter_code=matter_code,
            matter_name=self.config.hall.matter(matter_code).name,
            prompted_at=now,
            qr_url=self.qr_url_for(case_no, now),
            source=e.source,
            after_interruption=again,
        )

    def _refuse_if_done(self, case_no: str, now: datetime) -> bool:
        """A case is prompted once. The one exception: its prompt was cut off by a power cut or crash
        (未评价，已中断) and the clerk prompts it again within ``interrupted_reprompt_min`` minutes, once.
        Returns whether this is that second prompt."""
        history = self.outbox.case_history(case_no)
        if history.rated:
            raise TriggerRefused(f"办件 {case_no} 已评价，不能重复发起", "duplicate")
        if history.prompts and not self._may_reprompt(history, now):
            raise TriggerRefused(f"办件 {case_no} 已发起过评价，不能重复发起", "duplicate")
        return bool(history.prompts)

    def _may_reprompt(self, history, now: datetime) -> bool:
        window = timedelta(minutes=self.config.rules.interrupted_reprompt_min)
        noticed = history.interrupted_at
        return history.prompts == 1 and noticed is not None and now - noticed <= window and window > timedelta(0)

    def _refuse_if_too_soon(self, case_no: str, matter_code: str, now: datetime) -> None:
        last = self.outbox.last_prompt_at()
        interval = timedelta(seconds=self.config.rules.min_prompt_interval_s)
        if last is not None and now - last < interval:
            wait = int((interval - (now - last)).total_seconds()) + 1
            self._record(
                "prompt_refused",
                case_no=case_no,
                matter_code=matter_code,
                detail={"reason": "too_soon", "seconds_since_last": (now - last).total_seconds()},
            )
            raise TriggerRefused(f"两次评价间隔过短，请 {wait} 秒后再试", "too_soon")

    @staticmethod
    def _iso(moment: datetime) -> str:
        from kiosk.outbox import utc_iso

        return utc_iso(moment)

    # ------------------------------------------------------------ rating

    def _on_TapLevel(self, e: TapLevel) -> None:
        if self.screen is not Screen.PROMPT or e.level not in {int(lv) for lv in Level}:
            return
        # After 返回重选 the countdown runs on: going back and forth never buys the citizen (or a clerk) more time.
        timeout = None if self.state.withdrawn else timedelta(seconds=self.config.rules.reasons_timeout_s)
        deadline = self.state.deadline if timeout is None else self.clock() + timeout
        self._set(
            screen=Screen.REASONS,
            deadline=deadline,
            level=e.level,
            tapped_at=self.clock(),
            reasons=(),
            phone_heard_at=None,
            message="",
        )

    def _on_Reselect(self, _e: Reselect) -> None:
        if self.screen is not Screen.REASONS:
            return
        withdrawn = (*self.state.withdrawn, self.state.level)
        self._set(screen=Screen.PROMPT, level=None, tapped_at=None, reasons=(), withdrawn=withdrawn, message="")

    def _on_ToggleReason(self, e: ToggleReason) -> None:
        if self.screen is not Screen.REASONS:
            return
        allowed = {r.code for r in self.config.reasons.for_level(self.state.level)}
        if e.code not in allowed:
            return
        chosen = set(self.state.reasons) ^ {e.code}
        self._set(reasons=tuple(sorted(chosen)), message="")

    def _on_Submit(self, _e: Submit) -> None:
        if self.screen is not Screen.REASONS:
            return
        bad = Level(self.state.level).is_bad
        if bad and not self.state.reasons:
            self._set(message="请至少选择一项不满意的原因")
            return
        if bad and self.config.rules.contact.offer:
            rating = self._store_rating()
            self._offer_contact(rating["id"])
            return
        self._commit_rating()

    def _commit_rating(self, at: datetime | None = None, **detail) -> None:
        """Store the rating durably, then thank the citizen. If storing fails, no thanks."""
        self._store_rating(at, **detail)
        self._thank()

    def _store_rating(self, at: datetime | None = None, **detail) -> dict:
        p = self.state.prompt
        return self._record(
            "rating",
            at=at,
            case_no=p.case_no,
            matter_code=p.matter_code,
            level=self.state.level,
            reasons=list(self.state.reasons),
            reasons_version=self.config.reasons.version,
            channel=self.channel,
            prompted_at=self._iso(p.prompted_at),
            detail={"source": p.source, **self._withdrawn_detail(), **detail},
        )

    def _thank(self) -> None:
        self._go(
            Screen.THANKS,
            timedelta(seconds=self.config.rules.thanks_s),
            prompt=None,
            level=None,
            tapped_at=None,
            withdrawn=(),
            reasons=(),
            rating_id=None,
            contact="",
            message="",
        )

    # ------------------------------------------------------------ a contact for 核实 and 回访 (after a 差评)

    def _offer_contact(self, rating_id: str) -> None:
        """The 差评 is stored; now the citizen may leave a mobile number (可不填), with its own countdown. The level
        is not kept on this screen: nothing after the choice shows it."""
        self._go(
            Screen.CONTACT,
            timedelta(seconds=self.config.rules.reasons_timeout_s),
            level=None,
            tapped_at=None,
            withdrawn=(),
            reasons=(),
            rating_id=rating_id,
            contact="",
            message="",
        )

    def _on_ContactKey(self, e: ContactKey) -> None:
        if self.screen is not Screen.CONTACT:
            return
        typed = self.state.contact
        if e.key == "back":
            self._set(contact=typed[:-1], message="")
        elif len(e.key) == 1 and e.key.isdigit() and e.key.isascii():
            if len(typed) >= MOBILE_DIGITS:
                self._set(message=f"手机号只有 {MOBILE_DIGITS} 位\n输错了请点“删除”")
                return
            self._set(contact=typed + e.key, message="")

    def _on_ContactConfirm(self, _e: ContactConfirm) -> None:
        if self.screen is not Screen.CONTACT:
            return
        typed = self.state.contact
        if not typed:
            self._thank()  # 可不填: 确定 with nothing typed is the same as 跳过
            return
        try:
            mobile = normalise_mobile(typed)
        except MobileInvalid:
            self._set(message=contact_problem(typed))
            return
        p = self.state.prompt
        # The salt keeps the record's hash (kept in the server's chain) from being brute-forced back to the number:
        # the server drops it with the number and never stores either.
        salt = secrets.token_hex(16)
        self._record(
            "contact", case_no=p.case_no, detail={"mobile": mobile, "rating": self.state.rating_id, "salt": salt}
        )
        self._thank()

    def _on_ContactSkip(self, _e: ContactSkip) -> None:
        if self.screen is Screen.CONTACT:
            self._thank()

    def _withdrawn_detail(self) -> dict:
        return {"withdrawn_levels": list(self.state.withdrawn)} if self.state.withdrawn else {}

    def _on_RatedByPhone(self, e: RatedByPhone) -> None:
        """Someone rated the case on screen by phone while the five levels were showing. Usually the citizen did:
        the levels stay for ``PHONE_HEARD_GRACE`` with a notice, then the kiosk thanks them and stops prompting (no
        timeout). A citizen standing at the kiosk is never out-voted by someone else's phone (the clerk scanning
        the QR): a tap within the grace counts, and the server makes the phone rating the 追评. A citizen already
        choosing reasons is not interrupted at all: that tap wins too."""
        p = self.state.prompt
        if self.screen is not Screen.PROMPT or p is None or p.case_no != e.case_no or self.state.phone_heard_at:
            return
        now = self.clock()
        self._set(
            deadline=min(self.state.deadline or now, now + PHONE_HEARD_GRACE),
            phone_heard_at=now,
            message=PHONE_HEARD_NOTICE,
        )

    def _phone_rated(self) -> None:
        """The grace after a phone rating ran out with no tap: the prompt ended by phone."""
        p = self.state.prompt
        self._record(
            "phone_rated",
            case_no=p.case_no,
            matter_code=p.matter_code,
            channel=self.channel,
            prompted_at=self._iso(p.prompted_at),
            detail={"source": p.source, "heard_at": self._iso(self.state.phone_heard_at), **self._withdrawn_detail()},
        )
        self._back_to_idle_saying(PHONE_THANKS)

    def _on_Tick(self, _e: Tick) -> None:
        deadline = self.state.deadline
        if deadline is None or self.clock() < deadline:
            return
        screen = self.screen
        if screen is Screen.PROMPT and self.state.phone_heard_at:
            self._phone_rated()
        elif screen is Screen.PROMPT:
            self._time_out("prompt")
        elif screen is Screen.REASONS:
            self._reasons_left()
        elif screen is Screen.CONTACT:
            self._thank()  # the 差评 is stored already; an unconfirmed number is not kept
        elif screen is Screen.THANKS:
            self._go(Screen.IDLE, message="", large_text=self.large_text_default)  # the next citizen starts afresh
        elif screen is Screen.IDLE:
            self._set(message="", deadline=None)  # a notice clears after its time, however many came in a row
        elif screen in (Screen.STAFF_PIN, Screen.STAFF_MENU, Screen.CASE_ENTRY):
            self._go(Screen.IDLE, message="")
        elif screen in (Screen.ADMIN_PIN, Screen.MAINTENANCE):
            self._leave_admin()

    def _reasons_left(self) -> None:
        """The citizen walked away from the reasons screen. A good level counts as tapped, at the time of the tap;
        a bad level with reasons counts; a bad level without any is never dropped: by the province rule
        ``bad_without_reason`` it counts as a 差评 with 测评内容 未选择 (``count``) or stays on the timeout record with
        the tapped level, flagged for review (``hold``). The citizen sees 谢谢 every time: the clerk standing by
        learns nothing of the level from the screen."""
        level = Level(self.state.level)
        if not level.is_bad:
            self._commit_rating(at=self.state.tapped_at, committed="left_on_reasons")
        elif self.state.reasons:
            self._commit_rating(committed="left_on_reasons")
        elif self.config.rules.bad_without_reason == "count":
            self._commit_rating(at=self.state.tapped_at, bad_without_reason="count")
        else:
            self._record_timeout(
                "reasons",
                tapped_level=int(level),
                tapped_at=self._iso(self.state.tapped_at),
                bad_without_reason="hold",
            )
            self._thank()

    def _time_out(self, stage: str) -> None:
        """未评价，已超时: recorded, never dropped."""
        self._record_timeout(stage)
        self._back_to_idle_saying("未评价，已超时")

    def _back_to_idle_saying(self, notice: str) -> None:
        """The prompt ended without a tap: idle again, the notice shown for ``NOTICE_SHOWN``, the next citizen
        starting afresh."""
        self._go(
            Screen.IDLE,
            NOTICE_SHOWN,
            prompt=None,
            level=None,
            tapped_at=None,
            withdrawn=(),
            reasons=(),
            phone_heard_at=None,
            message=notice,
            large_text=self.large_text_default,
        )

    def _record_timeout(self, stage: str, **detail) -> None:
        p = self.state.prompt
        self._record(
            "timeout",
            case_no=p.case_no,
            matter_code=p.matter_code,
            channel=self.channel,
            prompted_at=self._iso(p.prompted_at),
            detail={"stage": stage, **self._withdrawn_detail(), **detail},
        )

    # ------------------------------------------------------------ after a power cut or crash

    def recover_interrupted(self) -> dict | None:
        """At start: a prompt left on screen by a power cut or crash gets its outcome, 未评价，已中断, at the time
        it was noticed (now). The case may then be prompted once more (``interrupted_reprompt_min``)."""
        with self._lock:
            prompt = self.outbox.unfinished_prompt()
            if prompt is None:
                return None
            now = self.clock()
            return self.outbox.append(
                "interrupted",
                now,
                window=self.window_code,
                clerk_no=prompt["clerk_no"],
                case_no=prompt["case_no"],
                matter_code=prompt["matter_code"],
                channel=prompt["channel"],
                prompted_at=prompt["prompted_at"],
                detail={"prompt_id": prompt["id"], "noticed_at": self._iso(now)},
            )

    # ------------------------------------------------------------ staff actions

    def _on_StaffHold(self, _e: StaffHold) -> None:
        if self.screen in (Screen.IDLE, Screen.PAUSED):
            self._go(
                Screen.STAFF_PIN,
                STAFF_SCREEN_TIMEOUT,
                paused_from=self.screen if self.screen is Screen.PAUSED else None,
                message="",
            )

    def _on_StaffPin(self, e: StaffPin) -> None:
        if self.screen is not Screen.STAFF_PIN:
            return
        if not verify_pin(e.pin, self.state.clerk.pin_hash):
            self._set(message="PIN 不正确")
            return
        if self.state.paused_from is not None:
            self._record("resume")
            self._go(Screen.IDLE, paused_from=None, message="")
            return
        self._go(Screen.STAFF_MENU, STAFF_SCREEN_TIMEOUT, message="")

    def _on_StaffChoose(self, e: StaffChoose) -> None:
        if self.screen is not Screen.STAFF_MENU:
            return
        if e.action == "trigger":
            self._go(Screen.CASE_ENTRY, STAFF_SCREEN_TIMEOUT, message="")
        elif e.action == "pause":
            self._record("pause")
            self._go(Screen.PAUSED, paused_from=Screen.IDLE, message="")
        elif e.action == "sign_out":
            self._sign_out()
        elif e.action == "maintenance":
            self._go(Screen.ADMIN_PIN, STAFF_SCREEN_TIMEOUT, message="")

    def _on_AdminAccess(self, _e: AdminAccess) -> None:
        if self.screen is Screen.SIGNED_OUT:
            self._go(Screen.ADMIN_PIN, STAFF_SCREEN_TIMEOUT, message="")

    def _on_AdminPin(self, e: AdminPin) -> None:
        if self.screen is not Screen.ADMIN_PIN:
            return
        if not verify_pin(e.pin, self.admin_pin_hash):
            self._set(message="管理员 PIN 不正确")
            return
        self._go(Screen.MAINTENANCE, timedelta(minutes=10), message="")

    def _on_Back(self, _e: Back) -> None:
        if self.screen in (Screen.ADMIN_PIN, Screen.MAINTENANCE):
            self._leave_admin()
        elif self.screen is Screen.STAFF_PIN and self.state.paused_from is not None:
            self._go(Screen.PAUSED, message="")
        elif self.screen in (Screen.STAFF_PIN, Screen.STAFF_MENU, Screen.CASE_ENTRY):
            self._go(Screen.IDLE, message="")

    def _leave_admin(self) -> None:
        self._go(Screen.IDLE if self.state.clerk else Screen.SIGNED_OUT, message="")

    def _on_ToggleLargeText(self, _e: ToggleLargeText) -> None:
        self._set(large_text=not self.state.large_text)

    # ------------------------------------------------------------ configuration without a restart

    def _on_NewConfig(self, e: NewConfig) -> None:
        e.config.hall.window(self.window_code)  # KeyError: a configuration without our window is refused
        self._pending_config = e.config

    def _apply_pending_config(self) -> None:
        """Swap in a pending configuration once nobody is rating or being served (idle or signed out)."""
        config = self._pending_config
        if config is None or self.screen not in (Screen.IDLE, Screen.SIGNED_OUT):
            return
        self._pending_config = None
        self.config, self.window = config, config.hall.window(self.window_code)
        clerk = self.state.clerk
        if clerk is not None:
            clerk = next((c for c in config.hall.clerks if c.no == clerk.no), clerk)
        self._set(clerk=clerk)  # a new state: the screens redraw with the new names


def contact_problem(typed: str) -> str:
    """What is wrong with a typed number, said so a citizen can put it right (or skip); two short lines, so a narrow
    screen in 大字 never breaks them in the middle of a phrase."""
    if len(typed) < MOBILE_DIGITS:
        return f"手机号应为 {MOBILE_DIGITS} 位，现在是 {len(typed)} 位\n请补全，或点“跳过”"
    return "手机号应以 13–19 开头，请核对\n也可以点“跳过”"
