"""The workflow's settings, declared once with a default and a help text each."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WorkflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="每个申诉证据文件的最大字节数")
    evidence_max_files: int = Field(default=5, ge=1, le=20, description="一次申诉最多上传的证据文件数")
    webhook_backoff_s: float = Field(default=30, gt=0, description="推送失败后第一次重试的等待秒数（此后每次加倍）")
    webhook_backoff_max_s: float = Field(default=3600, gt=0, description="推送重试间隔的上限（秒）")
    webhook_lease_s: float = Field(default=60, gt=0, description="一个推送任务领取后独占的秒数（多进程不重复发送）")
    webhook_timeout_s: float = Field(default=10, gt=0, description="等待外部系统应答的秒数")
    revisit_by: Literal["admin", "revisitor", "admin_or_revisitor"] = Field(
        default="admin_or_revisitor",
        description="谁做差评工单的回访（被评价部门以外的大厅角色）：admin 大厅管理员，revisitor 回访员，"
        "admin_or_revisitor 两者均可",
    )
    notify_sender: Literal["log", "webhook"] = Field(
        default="log",
        description="差评工单待回访（或回访不满意重新办理）时的通知方式：log 写入服务日志（演示），"
        "webhook 以 HTTP POST JSON 发往 notify_url（如短信平台），失败按指数退避重试",
    )
    notify_url: str = Field(default="", description="notify_sender = webhook 时接收通知的 HTTP(S) 地址")
    notify_secret: str = Field(default="", description="通知的 HMAC-SHA256 签名密钥（X-HCP-Webhook-Signature）")

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> WorkflowSettings:
        if self.notify_sender == "webhook" and not self.notify_url.startswith(("http://", "https://")):
            raise ValueError("notify_url: notify_sender = webhook 时须填写 http:// 或 https:// 开头的地址")
        return self

    @property
    def revisit_roles(self) -> tuple[str, ...]:
        """The console roles that may do 回访 (never the rated department's reviewer)."""
        return {"admin": ("admin",), "revisitor": ("revisitor",)}.get(self.revisit_by, ("admin", "revisitor"))
