"""The terminal's own settings (``kiosk.toml``): which window it serves, where it stores, how it listens.

Declared once with a default and a help text for each key; ``hcp kiosk --help-settings`` prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from haochaping.config import _Strict, read_toml, validate


class KioskSettings(_Strict):
    window: str = Field(description="本评价器所在窗口的编号（hall.toml 中的 windows.code）")
    config_dir: Path = Field(default=Path("config"), description="大厅配置目录（hall.toml、reasons.toml、rules/）")
    rules_file: str = Field(default="rules/default.toml", description="省份规则文件（相对 config_dir）")
    data_dir: Path = Field(default=Path("var/kiosk"), description="本地数据目录：outbox.db、设备身份、日志")
    channel: Literal[4, 5] = Field(default=4, description="评价渠道：4 政务大厅平板电脑，5 政务大厅其他终端")
    trigger_host: str = Field(default="127.0.0.1", description="办件系统触发接口监听的地址")
    trigger_port: int = Field(default=8765, ge=1, le=65535, description="办件系统触发接口监听的端口")
    trigger_token: str = Field(min_length=16, description="办件系统调用触发接口时携带的令牌（至少 16 位）")
    qr_base_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://",
        description="扫码评价页面的基础地址，二维码为 <qr_base_url>/r/<token>",
    )
    admin_pin_hash: str = Field(description="管理员 PIN 的散列（hcp pin-hash 生成），进入维护页面用")
    font_path: Path | None = Field(default=None, description="中文字体文件；不设置则在系统中查找")
    screen_dpi: float = Field(default=96.0, gt=50, le=600, description="屏幕像素密度，用于保证触控区不小于 15 毫米")
    fullscreen: bool = Field(default=True, description="全屏展台模式：无鼠标指针，Esc 不退出")
    large_text: bool = Field(default=False, description="默认使用大字模式（适合老年群众）")
    sound_file: Path | None = Field(default=None, description="评价提示出现时播放的声音文件（可选）")
    width: int = Field(default=1280, ge=640, le=3840, description="窗口宽度（像素），非全屏时使用")
    height: int = Field(default=800, ge=480, le=2160, description="窗口高度（像素），非全屏时使用")
    server_url: str | None = Field(default=None, description="中心服务器地址；未登记时为空")
    clock_warn_s: float = Field(
        default=120.0, gt=0, le=86400, description="本机时钟与服务器相差超过多少秒时在维护页面提示校准"
    )

    def resolve(self, base: Path) -> KioskSettings:
        """Make relative paths relative to the settings file's folder."""

        def rel(p: Path | None) -> Path | None:
            return None if p is None or p.is_absolute() else base / p

        return self.model_copy(
            update={
                k: rel(getattr(self, k)) or getattr(self, k)
                for k in ("config_dir", "data_dir", "font_path", "sound_file")
            }
        )


def load_settings(path: Path | str) -> KioskSettings:
    path = Path(path)
    settings = validate(KioskSettings, read_toml(path), path)
    return settings.resolve(path.parent.resolve())
