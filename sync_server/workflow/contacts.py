"""The mobile number a citizen left with a 差评, on the 差评工单: shown masked to everyone who may see the record; in
full only to whoever does 核实 or 回访 on it (the state machine's roles for those steps, with its department check),
by an explicit action written to the audit log; deleted ``rules.contact.keep_days`` after the record finished.

    may_reveal       whether this actor does 核实 or 回访 on this record (whatever step it is at now)
    reveal_number    the number in full, audited (``contact.reveal``); RoleRefused for anyone else
    purge_numbers    delete every number whose keeping time is over, audited with the count (``contact.purge``)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sync_server.configs import current_rules
from sync_server.contact import ContactCipher, ContactKeyMissing
from sync_server.db import Store
from sync_server.storage.auditlog import append_entry
from sync_server.storage.contacts import KeptContact, ciphertext_of, delete_numbers, kept_contacts
from sync_server.storage.schema import utc_iso
from sync_server.workflow.cases import facts_of, load_case, pending_extension
from sync_server.workflow.errors import CaseNotFound, OutsideDepartment, OwnAppeal, RoleRefused, StepRefused
from sync_server.workflow.machine import FINISHED, RULES, Actor, CaseFacts, State, Step, decide

CONTACT_STEPS = (Step.VERIFY_TRUE, Step.REVISIT)  # 核实（联系群众） and 回访: the steps that call the citizen


def may_reveal(facts: CaseFacts, actor: Actor) -> bool:
    """True when ``actor`` is of the role (and department) that takes 核实 or 回访 on this record, at any state: the
    same refusal rules as the steps themselves, asked as if the record were at that step."""
    for step in CONTACT_STEPS:
        sources = RULES[step].sources or frozenset({facts.state})
        at_step = replace(facts, state=sorted(sources)[0], appeal=None, extension_asked_by=None)
        try:
            decide(at_step, step, actor)
        except (RoleRefused, OutsideDepartment, OwnAppeal, StepRefused):
            continue
        return True
    return False


def reveal_number(
    store: Store,
    case_id: int,
    contact_id: int,
    actor: Actor,
    now: datetime,
    cipher: ContactCipher | None,
    scope=None,
    address: str | None = None,
) -> str:
    """The number in full, for the one who calls the citizen; the reveal is written to the audit log."""
    with store.write() as conn:
        case, appeal = load_case(conn, case_id, scope)
        if not may_reveal(facts_of(case, appeal, pending_extension(conn, case_id)), actor):
            raise RoleRefused("完整手机号只向办理本工单核实或回访的人员显示")
        token = ciphertext_of(conn, contact_id, case.case_no)
        if token is None:
            raise CaseNotFound("本工单没有这个手机号，或已按规定删除")
        if cipher is None:
            raise ContactKeyMissing("服务器未配置联系方式加密密钥（设置文件 [server] contact_key），无法显示完整号码")
        number = cipher.decrypt(token)
        detail = {"case_no": case.case_no, "contact_id": contact_id}
        append_entry(conn, now, actor.username, "contact.reveal", f"差评工单 {case_id}", detail, address)
    return number


def purge_numbers(store: Store, now: datetime) -> int:
    """Delete every number ``keep_days`` after its 差评工单 finished (办结; or appeal upheld, or withdrawn), or after
    it was left when no 差评工单 holds its case; audited with the count. Returns how many were deleted."""
    with store.write() as conn:
        keep = timedelta(days=current_rules(conn).contact.keep_days)
        by_contact: dict[int, list[KeptContact]] = {}
        for row in kept_contacts(conn):
            by_contact.setdefault(row.id, []).append(row)
        due = [cid for cid, rows in by_contact.items() if all(_over(r, keep, now) for r in rows)]
        deleted = delete_numbers(conn, due, utc_iso(now))
        if deleted:
            detail = {"count": deleted, "keep_days": keep.days}
            append_entry(conn, now, "system", "contact.purge", "群众所留手机号", detail)
    return deleted


def _over(row: KeptContact, keep: timedelta, now: datetime) -> bool:
    """Whether this number's keeping time is over as far as this 差评工单 (or its absence) tells."""
    if row.case_state is None:
        finished_at = row.given_at
    elif State(row.case_state) not in FINISHED:
        return False
    else:
        finished_at = row.closed_at or row.last_step_at or row.given_at
    return datetime.fromisoformat(finished_at) + keep <= now
