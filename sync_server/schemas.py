"""The API's request and response bodies (they make ``/openapi.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from haochaping.chain import KINDS
from haochaping.levels import COMMENT_MAX_CHARS

MAX_BATCH_RECORDS = 500
HASH_PATTERN = r"^[0-9a-f]{64}$"
ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"  # no ":": "qr:" and "default:" ids are the server's own
CASE_NO_PATTERN = r"^[0-9A-Za-z\-_/.]{1,64}$"  # as the terminal accepts it
TRIGGER_ID_PATTERN = r"^trg-[0-9a-f]{20}$"


def _integral(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer: take it as 5 (a strict field still refuses true and "5")."""
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53 else value


def _has_float(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, float) for v in value) if value else False
    return isinstance(value, float)


def _integers(*names: str):
    """A before-validator turning integral numbers of these fields into ints. It runs on every record of a batch,
    so it looks at these fields only and copies the body only when one of them holds a float (terminals send ints)."""

    def convert(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in names:
                if _has_float(data.get(name)):
                    return {**data, **{k: _integral(data[k]) for k in names if k in data}}
        return data

    return model_validator(mode="before")(classmethod(convert))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _iso_utc(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("时间应为 ISO 8601 格式") from None
    if moment.tzinfo is None:
        raise ValueError("时间应带时区（UTC）")
    return value


class RecordIn(_Body):
    """One outbox record exactly as the terminal made it (``haochaping.chain.RECORD_FIELDS``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=ID_PATTERN, description="记录编号（评价器生成）")
    seq: int = Field(ge=1, le=2**53, description="设备内序号，从 1 开始连续")
    kind: Literal[KINDS] = Field(description="记录类型")  # type: ignore[valid-type]
    device_id: str = Field(min_length=1, max_length=64, description="设备编号，须与签名设备一致")
    window: str | None = Field(default=None, max_length=32)
    clerk_no: str | None = Field(default=None, max_length=32)
    case_no: str | None = Field(default=None, min_length=1, max_length=64)
    matter_code: str | None = Field(default=None, max_length=64)
    level: int | None = Field(default=None, ge=1, le=5)
    reasons: list[int] = Field(default_factory=list, max_length=32)
    reasons_version: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)
    channel: int | None = Field(default=None, ge=0, le=7)
    prompted_at: str | None = Field(default=None, max_length=40, json_schema_extra={"format": "date-time"})
    occurred_at: str = Field(max_length=40, json_schema_extra={"format": "date-time"})
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = Field(pattern=HASH_PATTERN)
    hash: str = Field(pattern=HASH_PATTERN)

    _times = field_validator("prompted_at", "occurred_at")(_iso_utc)
    _ints = _integers("seq", "level", "reasons", "channel")

    def as_record(self) -> dict[str, Any]:
        """The record as a plain dict, equal to ``model_dump()``: every field already holds a plain JSON value
        (no nested model), so the validated values are taken as they are instead of serialised once more for each
        of a batch's records (a test keeps the two equal)."""
        return dict(self.__dict__)


class RecordBatch(_Body):
    records: list[RecordIn] = Field(description=f"至多 {MAX_BATCH_RECORDS} 条，按序号升序")


class RecordResult(BaseModel):
    id: str
    status: Literal["stored", "duplicate", "conflict", "refused"] = Field(
        description="stored 已入库；duplicate 已有相同记录；conflict 编号已被其他内容占用（另存并标记）；"
        "refused 记录已入库（保持序号连续），但其中的手机号未保存，原因见 error（可视同已确认）"
    )
    error: str | None = Field(default=None, description="status 为 refused 时：手机号未保存的原因")


class RecordsResponse(BaseModel):
    ok: Literal[True] = True
    results: list[RecordResult]
    server_time: float


ENROLMENT_CODE_PATTERN = r"^ *[A-Za-z0-9]{4}[- ]?[A-Za-z0-9]{4}[- ]?[A-Za-z0-9]{4} *$"


class EnrolRequest(_Body):
    code: str = Field(
        pattern=ENROLMENT_CODE_PATTERN,
        description="管理员生成的一次性登记码：12 位字母或数字，可按 4 位一组用 - 或空格分开，不分大小写",
    )


class EnrolResponse(BaseModel):
    ok: Literal[True] = True
    device_id: str
    secret: str = Field(description="设备密钥（32 字节，十六进制）；只在登记时返回一次")
    window: str
    server_time: float


class StatusRequest(_Body):
    model_config = ConfigDict(extra="forbid", strict=True)

    outbox_depth: int = Field(ge=0, le=10**9)
    config_version: str = Field(max_length=64)
    clock_offset_s: float = Field(allow_inf_nan=False, description="评价器时钟与服务器的偏差（秒）")
    last_sync_at: str | None = Field(default=None, max_length=40, json_schema_extra={"format": "date-time"})
    app_version: str = Field(max_length=64)

    _times = field_validator("last_sync_at")(_iso_utc)
    _ints = _integers("outbox_depth")


class TriggerOut(BaseModel):
    id: str
    case_no: str
    matter_code: str | None
    created_at: str


class TriggersResponse(BaseModel):
    ok: Literal[True] = True
    triggers: list[TriggerOut]
    phone_rated: list[str] = Field(
        default_factory=list, description="本评价器屏幕上正在提示的办件已由手机扫码评价：办件编号（评价器随即结束提示）"
    )
    server_time: float


class TriggerAck(_Body):
    ids: list[str] = Field(max_length=500)
    refused: dict[str, str] = Field(default_factory=dict, description="被评价器拒绝的触发：编号 → 原因")


class PromptRequest(_Body):
    window: str = Field(min_length=1, max_length=32, description="窗口编号")
    matter_code: str | None = Field(default=None, max_length=64, description="事项编码（可选）")


class PromptResponse(BaseModel):
    ok: Literal[True] = True
    trigger_id: str


class PromptStatus(BaseModel):
    ok: Literal[True] = True
    trigger_id: str
    case_no: str
    window: str
    matter_code: str | None
    status: Literal["pending", "delivered", "accepted", "refused", "expired"] = Field(
        description="pending 未送达；delivered 已送达；accepted 已发起评价；refused 评价器拒绝；expired 过期未送达"
    )
    refused_message: str | None = Field(description="评价器拒绝的原因（如“本窗口暂停服务中”）")
    created_at: str
    delivered_at: str | None
    acked_at: str | None


class OkResponse(BaseModel):
    ok: Literal[True] = True
    server_time: float


class ErrorResponse(BaseModel):
    ok: Literal[False] = False
    error: str
    status: int


class ConfigResponse(BaseModel):
    ok: Literal[True] = True
    version: str
    hall: dict[str, Any]
    reasons: dict[str, Any]
    rules: dict[str, Any]


MAX_CLOSED_CASES = 1000


class ClosedCaseIn(_Body):
    """One case the case system accepted (and, with ``closed_at``, closed)."""

    case_no: str = Field(pattern=CASE_NO_PATTERN, description="办件编号（1–64 位字母、数字或 - _ / .）")
    matter_code: str = Field(min_length=1, max_length=64, description="事项编码，须在大厅配置中")
    window: str = Field(min_length=1, max_length=32, description="窗口编号，须在大厅配置中")
    clerk_no: str = Field(min_length=1, max_length=32, description="经办工作人员工号")
    accepted_at: AwareDatetime = Field(description="受理时间（ISO 8601，带时区）")
    closed_at: AwareDatetime | None = Field(
        default=None, description="办结时间（ISO 8601，带时区）；尚未办结的办件不填，办结后再报一次"
    )
    promised_days: int | None = Field(
        default=None, ge=1, le=365, description="事项的承诺办结时限（工作日），办件系统知道时填写"
    )


class ClosedCaseBatch(_Body):
    cases: list[ClosedCaseIn] = Field(
        min_length=1, max_length=MAX_CLOSED_CASES, description=f"至多 {MAX_CLOSED_CASES} 件"
    )


class ClosedCaseResult(BaseModel):
    case_no: str
    status: Literal["stored", "duplicate", "closed", "conflict"] = Field(
        description="stored 新增；duplicate 已有相同内容；closed 原未办结的办件补记办结；"
        "conflict 与已存内容不一致，另存并标记"
    )


class ClosedCasesResponse(BaseModel):
    ok: Literal[True] = True
    results: list[ClosedCaseResult]
    server_time: float
