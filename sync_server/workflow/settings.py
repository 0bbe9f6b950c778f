"""The workflow's settings, declared once with a default and a help text each."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="每个申诉证据文件的最大字节数")
    evidence_max_files: int = Field(default=5, ge=1, le=20, description="一次申诉最多上传的证据文件数")
    webhook_backoff_s: float = Field(default=30, gt=0, description="推送失败后第一次重试的等待秒数（此后每次加倍）")
    webhook_backoff_max_s: float = Field(default=3600, gt=0, description="推送重试间隔的上限（秒）")
    webhook_lease_s: float = Field(default=60, gt=0, description="一个推送任务领取后独占的秒数（多进程不重复发送）")
    webhook_timeout_s: float = Field(default=10, gt=0, description="等待外部系统应答的秒数")
