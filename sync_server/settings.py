"""The server's own settings, declared once with a default and a help text each (``hcp server --help`` shows
the ones that have command-line options)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sync_server.schemas import MAX_BATCH_RECORDS


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="请求体的最大字节数，超出返回 413")
    max_upload_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="上传申诉证据的表单（差评工单的办理步骤）请求体的最大字节数"
    )
    max_batch_records: int = Field(
        default=MAX_BATCH_RECORDS, ge=1, le=10_000, description="一批记录的最大条数，超出返回 413"
    )
    long_poll_max_s: float = Field(default=30, ge=0, le=120, description="触发长轮询的最长等待秒数")
    poll_interval_s: float = Field(default=0.5, gt=0, le=10, description="长轮询期间查询数据库的间隔秒数")
    trigger_ttl_s: int = Field(default=900, ge=10, description="办件系统触发的有效秒数，过期不再下发")
    qr_form_ttl_s: int = Field(default=3600, ge=60, description="扫码评价表单（随机数）的有效秒数")
    device_silent_minutes: int = Field(
        default=30, ge=1, le=7 * 24 * 60, description="评价器超过多少分钟未联系即在管理后台设备页标红（失联）"
    )
