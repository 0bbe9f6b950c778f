"""The provincial upload's settings (``[upstream]`` of ``config/server.toml``), a default and a help text each."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Our name of each field → the name the platform expects by default (GB/T 39046 表9 and the national interface);
# provinces differ, so ``[upstream.fields]`` renames any of them (or drops one with "").
DEFAULT_FIELDS = {
    "id": "id",
    "kind": "dataType",
    "case_no": "projectNo",
    "region_code": "areaCode",
    "matter_code": "taskCode",
    "department": "deptCode",
    "window": "windowNo",
    "channel": "pf",
    "rater": "userName",
    "rated_at": "assessTime",
    "assess_number": "assessNumber",
    "level": "alternate",
    "satisfaction": "satisfaction",
    "reasons": "appraisalContent",
    "comment": "writingEvaluation",
    "step": "handleStep",
    "step_at": "handleTime",
    "note": "handleOpinion",
    "outcome": "appealResult",
    "appeal_type": "appealType",
}


class UpstreamSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default="", max_length=500, description="省好差评平台接收数据的地址；空则不上报")
    secret: str = Field(default="", max_length=200, description="与省平台约定的签名密钥（HMAC-SHA256）")
    batch_size: int = Field(default=200, ge=1, le=1000, description="每次请求发送的条数")
    backoff_s: float = Field(default=30, gt=0, description="上报失败后第一次重试的等待秒数（此后每次加倍）")
    backoff_max_s: float = Field(default=3600, gt=0, description="上报重试间隔的上限（秒）")
    lease_s: float = Field(default=60, gt=0, description="一批上报领取后独占的秒数（多进程不重复发送）")
    timeout_s: float = Field(default=10, gt=0, description="等待省平台应答的秒数")
    collect_days: int = Field(default=30, ge=1, le=366, description="每次从最近多少天的评价和办理记录中补齐待上报项")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="字段名对照：本系统字段 = 省平台字段名（空字符串表示不发送该字段）；未列出的用默认名",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ValueError(f"应为 http:// 或 https:// 开头、端口为数字的地址，而不是 {value!r}")
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DEFAULT_FIELDS))
        if unknown:
            raise ValueError(f"未知的字段 {', '.join(unknown)}（可用：{', '.join(DEFAULT_FIELDS)}）")
        names = [n for n in {**DEFAULT_FIELDS, **value}.values() if n]
        if len(names) != len(set(names)):
            raise ValueError("省平台字段名不能重复")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def field_names(self) -> dict[str, str]:
        return {**DEFAULT_FIELDS, **self.fields}
