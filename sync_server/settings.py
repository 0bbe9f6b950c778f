"""The server's own settings, declared once with a default and a help text each (``hcp server --help`` shows
the ones that have command-line options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from haochaping.config import read_toml, validate
from sync_server.closedcases.settings import CaseFeedSettings
from sync_server.console.settings import ConsoleSettings
from sync_server.schemas import MAX_BATCH_RECORDS
from sync_server.upstream.settings import UpstreamSettings
from sync_server.workflow.settings import WorkflowSettings


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
    contact_key: str = Field(
        default="",
        description="群众所留手机号的加密密钥（hcp server contact-key 生成；只放在本文件，不入数据库）；"
        "为空则不收手机号",
    )

    @field_validator("contact_key")
    @classmethod
    def _a_contact_key(cls, value: str) -> str:
        from sync_server.contact import ContactCipher, ContactUnreadable

        if value:
            try:
                ContactCipher(value)
            except ContactUnreadable:
                raise ValueError("应为 hcp server contact-key 生成的密钥（44 个字符）") from None
        return value


class ServerSettingsFile(BaseModel):
    """``config/server.toml``: the server's, the console's, the 差评 workflow's and the case reconciliation's settings,
    one section each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings, description="[server] 同步接口与扫码页")
    console: ConsoleSettings = Field(default_factory=ConsoleSettings, description="[console] 管理后台")
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings, description="[workflow] 差评处理与推送")
    cases: CaseFeedSettings = Field(default_factory=CaseFeedSettings, description="[cases] 办件系统对账")
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings, description="[upstream] 上报省好差评平台")


def load_server_settings(path: Path | str | None) -> ServerSettingsFile:
    """The settings in ``path`` (defaults for a missing section or key); all defaults when ``path`` is None.

    A bad file raises ConfigError naming the file, the key (``section.key``) and what was expected."""
    if path is None:
        return ServerSettingsFile()
    path = Path(path)
    return validate(ServerSettingsFile, read_toml(path), path)
