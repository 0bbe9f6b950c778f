"""Charts drawn on the server as inline SVG (no script, no external library): bars and a trend line."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    color: str = "#c8161d"


def bars(items: list[Bar], width: int = 460, row: int = 28, title: str = "") -> str:
    """Horizontal bars, one row per item, with its label left and its text right; the same figures are the chart's
    accessible name, so a screen reader reads them out."""
    top = max((b.value for b in items), default=0) or 1
    label_w, text_w = 120, 90
    track = width - label_w - text_w
    said = "；".join(f"{b.label} {b.text}" for b in items)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {row * len(items) + 4}" role="img" '
        f'aria-label="{escape(title + "：" + said if title else said)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, b in enumerate(items):
        y = i * row + 4
        w = max(track * b.value / top, 0)
        parts.append(f'<text x="{label_w - 8}" y="{y + row * 0.6:.0f}" text-anchor="end">{escape(b.label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{track}" height="{row - 10}" fill="#f2f3f5" rx="3"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" fill="{b.color}" rx="3"/>')
        parts.append(f'<text x="{label_w + track + 8}" y="{y + row * 0.6:.0f}">{escape(b.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trend(points: list[tuple[str, int, float | None]], width: int = 940, height: int = 220) -> str:
    """Columns for the number of effective ratings per period and a line for 好评率 (right axis, 0–100%)."""
    if not points:
        return ""
    left, right, top, bottom = 48, 48, 14, 36
    inner_w, inner_h = width - left - right, height - top - bottom
    peak = max(n for _, n, _ in points) or 1
    step = inner_w / len(points)
    said = "；".join(f"{label} {n} 条" + ("" if rate is None else f"、好评率 {rate:.1%}") for label, n, rate in points)
    parts = [
        f'<svg class="chart trend" viewBox="0 0 {width} {height}" role="img" aria-label="{escape("趋势：" + said)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for frac in (0, 0.5, 1):
        y = top + inner_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e6eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(peak * frac)}</text>')
        parts.append(f'<text x="{width - right + 6}" y="{y + 4:.1f}">{round(frac * 100)}%</text>')
    line = []
    label_every = max(1, len(points) // 12)
    for i, (label, n, rate) in enumerate(points):
        x = left + i * step
        h = inner_h * n / peak
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{top + inner_h - h:.1f}" width="{step * 0.7:.1f}" '
            f'height="{h:.1f}" fill="#f7c5c7"><title>{escape(label)}：{n} 条</title></rect>'
        )
        line.append(None if rate is None else f"{x + step / 2:.1f},{top + inner_h * (1 - rate):.1f}")
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 14}" text-anchor="middle">'
                f"{escape(label[5:] or label)}</text>"
            )
    for run in _runs(line):
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="#c8161d" stroke-width="2"/>')
        for point in run:
            x, y = point.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="#c8161d"/>')
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: list[str | None]) -> list[list[str]]:
    """Consecutive points, split where a period has no rating (the line does not bridge empty periods)."""
    runs: list[list[str]] = [[]]
    for p in points:
        if p is None:
            runs.append([])
        else:
            runs[-1].append(p)
    return [r for r in runs if r]
