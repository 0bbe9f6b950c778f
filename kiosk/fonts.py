"""Finding a CJK font for the kiosk: the configured file, else one fontconfig knows covers Chinese.

``fc-match ':lang=zh'`` alone is not enough: on a machine without Chinese fonts it happily returns
DejaVu Sans, which renders every 汉字 as a box. A candidate counts only if fontconfig lists it
for ``:lang=zh`` (or, with no fontconfig at all, if it is one of the well-known CJK files).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.errors import FontNotFound

WELL_KNOWN_CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
HINT = "请在 kiosk.toml 中设置 font_path 指向中文字体文件（例如 /usr/share/fonts/truetype/wqy/wqy-microhei.ttc）"

Runner = Callable[[Sequence[str]], str]


def find_cjk_font(
    configured: Path | None,
    run: Runner | None = None,
    well_known: Sequence[Path] = WELL_KNOWN_CJK_FONTS,
) -> Path:
    """The font file to render Chinese with; FontNotFound (naming ``font_path``) when there is none."""
    if configured is not None:
        path = Path(configured)
        if path.is_file():
            return path
        raise FontNotFound(f"找不到 kiosk.toml 中 font_path 设置的字体文件 {path}；{HINT}")
    run = run or _run_fontconfig
    covering = _fontconfig_cjk_files(run)
    for candidate in _fontconfig_match(run), *well_known:
        if candidate and candidate.is_file() and (covering is None or candidate in covering):
            return candidate
    for path in sorted(covering or ()):
        if path.is_file():
            return path
    raise FontNotFound(f"系统中没有找到中文字体；{HINT}")


def _fontconfig_match(run: Runner) -> Path | None:
    out = run(["fc-match", "-f", "%{file}", ":lang=zh"])
    return Path(out.strip()) if out and out.strip() else None


def _fontconfig_cjk_files(run: Runner) -> set[Path] | None:
    """Files fontconfig says cover Chinese; None when fontconfig is not available."""
    out = run(["fc-list", ":lang=zh", "-f", "%{file}\n"])
    if out is None:
        return None
    return {Path(line.strip()) for line in out.splitlines() if line.strip()}


def _run_fontconfig(argv: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
