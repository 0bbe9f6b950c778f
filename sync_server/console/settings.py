"""The console's settings, declared once with a default and a help text each."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_idle_s: int = Field(default=8 * 3600, ge=300, description="登录会话空闲多少秒后失效")
    session_touch_s: int = Field(default=60, ge=1, description="会话最近活动时间的最小更新间隔（秒），减少写库")
    throttle_window_s: int = Field(default=900, ge=60, description="统计登录失败次数的时间窗（秒）")
    max_failures_per_user: int = Field(default=5, ge=1, description="时间窗内同一用户名允许的失败次数，超出即暂停登录")
    max_failures_per_address: int = Field(default=20, ge=1, description="时间窗内同一来源地址允许的失败次数")
    device_silent_minutes: int = Field(default=30, ge=1, description="评价器超过多少分钟未联系即在设备页标红")
    device_clock_warn_s: float = Field(
        default=120, gt=0, description="评价器上报的时钟偏差超过多少秒即在设备页和 /metrics 中提示"
    )
    min_ratings_to_rank: int = Field(default=5, ge=1, description="参加最佳服务窗口、服务之星排名的最少有效评价数")
    repeated_bad_threshold: int = Field(default=2, ge=2, description="统计期内差评达到多少条算“多次差评”")
    burst_window_s: int = Field(default=60, ge=1, description="可疑集中好评：同一评价器在多少秒内")
    burst_min_ratings: int = Field(default=5, ge=2, description="可疑集中好评：至少多少条“非常满意”")
    quick_rating_s: float = Field(
        default=5.0,
        ge=0,
        description="提示后多少秒内即评价算“秒评”：连续秒评（手输办件号）列入复核，并按工作人员逐日统计",
    )
    min_read_s: float = Field(default=2.0, ge=0, description="提示后短于多少秒的评价视为快于正常阅读，列入复核")
    phone_max_cases: int = Field(
        default=3,
        ge=1,
        description="一部手机同一天为同一工作人员评价超过多少件办件即列入复核（扫码页的匿名 Cookie，只列出，照常计入）",
    )
    office_hours_grace_minutes: int = Field(
        default=15,
        ge=0,
        le=120,
        description="办公时间前后多少分钟内的评价仍算办公时间内（办公时间见 assessment.toml 的 [attendance] sessions）",
    )
    page_size: int = Field(default=50, ge=10, le=500, description="评价列表每页条数")
