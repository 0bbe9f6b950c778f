"""Items as the platform receives them: our fields (pure data made when the item is queued), renamed to the
province's field names when sent, so that a corrected mapping applies to every item still to be sent or resent."""

from __future__ import annotations

import hashlib
import hmac
import json

from haochaping.levels import Level
from sync_server.console.labels import gbt_time

SIGNATURE_HEADER = "X-HCP-Upstream-Signature"
KINDS = {"rating": "评价", "step": "差评办理", "appeal": "申诉结果"}
STEP_NAMES = {  # the workflow's steps the platform hears of: 核实, 整改, 回访, 办结 (and 解释说明)
    "verify_true": "核实",
    "verify_false": "核实",
    "rectify": "整改",
    "revisit": "回访",
    "explain": "解释说明",
    "close": "办结",
}


def rating_item(row, region_code: str) -> dict:
    """A counting rating in the 表9 field set (``row`` from ``storage.upstream``); 评价人 is the masked number the
    citizen left (138****1234), or 匿名."""
    return {
        "id": f"rating:{row.record_id}",
        "kind": "rating",
        "case_no": row.case_no,
        "region_code": region_code,
        "matter_code": row.matter_code,
        "window": row.window,
        "channel": row.channel,
        "rater": getattr(row, "contact_masked", None) or "匿名",
        "rated_at": gbt_time(row.rated_at),
        "assess_number": row.assess_number or 1,
        "level": row.level,
        "satisfaction": Level(row.level).gbt39046_code,
        "reasons": json.loads(row.reasons or "[]"),
        "comment": row.comment or "",
    }


def step_item(row, region_code: str) -> dict:
    """One step of a 差评工单."""
    detail = json.loads(row.detail or "{}")
    return {
        "id": f"step:{row.id}",
        "kind": "step",
        "case_no": row.case_no,
        "region_code": region_code,
        "department": row.department,
        "window": row.window,
        "step": STEP_NAMES[row.step],
        "step_at": gbt_time(row.at),
        "note": str(detail.get("finding") or detail.get("text") or detail.get("note") or ""),
    }


APPEAL_TYPES = {"malicious": "恶意差评", "mistake": "误操作"}


def appeal_item(row, region_code: str) -> dict:
    """An appeal's outcome: 申诉成立 (the hall's 复核 confirmed the written report: the rating is not adopted) or, for
    appeals filed under the former rules, 申诉不成立; a supervisor's reversal is sent as 复核改判."""
    outcome = "申诉成立" if row.status == "upheld" else "申诉不成立"
    if row.review_outcome == "reversed":
        outcome = "复核改判：" + ("申诉不成立" if row.status == "upheld" else "申诉成立")
    return {
        "id": appeal_key(row),
        "kind": "appeal",
        "case_no": row.case_no,
        "region_code": region_code,
        "department": row.department,
        "step_at": gbt_time(row.reviewed_at or row.decided_at),
        "outcome": outcome,
        "appeal_type": APPEAL_TYPES.get(row.category, "其他（原规则）"),
        "note": row.review_note or row.decision_note or "",
    }


def appeal_key(row) -> str:
    return f"appeal:{row.id}:{row.status}:{row.review_outcome or ''}"


def mapped(item: dict, names: dict[str, str]) -> dict:
    """The item under the province's field names (fields mapped to "" are left out)."""
    return {names[k]: v for k, v in item.items() if names.get(k)}


def request_body(items: list[dict], names: dict[str, str]) -> bytes:
    return json.dumps({"items": [mapped(i, names) for i in items]}, ensure_ascii=False, sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return hmac.compare_digest(sign(secret, body), header or "")
