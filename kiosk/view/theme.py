"""Colours, sizes and kv file locations of the kiosk view: calm, high contrast, large."""

from __future__ import annotations

from pathlib import Path

from haochaping.levels import LEVELS_BEST_FIRST

KV_DIR = Path(__file__).resolve().parent.parent / "kv"

DESIGN_WIDTH, DESIGN_HEIGHT = 1280, 800  # font sizes in the kv files are for this size, then scaled
LARGE_TEXT_SCALE = 1.4
TOUCH_TARGET_MM = 15.0

BACKGROUND = (0.965, 0.961, 0.941, 1)
SURFACE = (1, 1, 1, 1)
TEXT = (0.13, 0.17, 0.22, 1)
MUTED = (0.38, 0.42, 0.47, 1)
HEADER = (0.09, 0.29, 0.52, 1)
PRIMARY = (0.11, 0.40, 0.70, 1)
NEUTRAL = (0.47, 0.51, 0.56, 1)
QUIET = (0.80, 0.81, 0.80, 1)
ALERT = (0.75, 0.22, 0.17, 1)
KEY = (0.90, 0.91, 0.92, 1)

# Level colours: greens for 5/4, a neutral blue-grey for 3, orange and red for 2/1.
LEVEL_COLOURS = {
    5: (0.13, 0.49, 0.20, 1),
    4: (0.33, 0.60, 0.25, 1),
    3: (0.42, 0.49, 0.56, 1),
    2: (0.87, 0.45, 0.10, 1),
    1: (0.77, 0.16, 0.16, 1),
}
# The five buttons of the prompt, best first: (level, label, colour).
LEVEL_CHOICES = [(int(level), level.label, LEVEL_COLOURS[int(level)]) for level in LEVELS_BEST_FIRST]
# How much each face smiles (positive) or frowns (negative).
LEVEL_SMILE = {5: 0.42, 4: 0.22, 3: 0.0, 2: -0.22, 1: -0.42}


def kv_path(name: str) -> str:
    return str(KV_DIR / f"{name}.kv")


def touch_target_px(dpi: float) -> float:
    """The smallest touch target in pixels: 15 mm at the screen's density."""
    return TOUCH_TARGET_MM / 25.4 * dpi


def darker(rgba, factor: float = 0.8):
    r, g, b, a = rgba
    return (r * factor, g * factor, b * factor, a)


def alpha(rgba, a: float):
    """The same colour with another opacity."""
    return (*tuple(rgba)[:3], a)


def mouth_points(cx: float, cy: float, r: float, level: int) -> list[float]:
    """A parabola under the eyes: corners up for a smile, down for a frown, flat for 基本满意."""
    smile = LEVEL_SMILE.get(int(level), 0.0)
    points: list[float] = []
    for i in range(21):
        t = -1 + i / 10
        points += [cx + t * r * 0.48, cy - r * 0.32 + smile * r * (t * t - 0.5)]
    return points
