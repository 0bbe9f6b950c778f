"""The closed-case reconciliation's settings (``[cases]`` of ``config/server.toml``), a default and a help text each."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CaseFeedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_within_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="办结后多少分钟内未在本窗口评价器发起评价，即计为漏评"
    )
    unknown_case_grace_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 90,
        description="评价器上的办件编号超过多少小时办件系统仍未报送，即标记“办件系统无此件”",
    )
