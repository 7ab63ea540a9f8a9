"""Small, dependency-free SVG charts for feasibility reports. Pure: data in, SVG text out.

The same SVG goes into the HTML report, the PDF (WeasyPrint renders inline SVG) and the web pages,
so a report looks the same everywhere and works offline. Four kinds, the ones the reports need:

- :func:`line_chart` — cumulative tonnes over the crediting period (one or more series);
- :func:`bar_chart` — yearly net cash flow (negative bars below the axis);
- :func:`histogram` — a risk distribution (bin edges and counts) with marked percentiles;
- :func:`map_chart` — sub-compartment polygons coloured by a category (eligible / not).

Every text is XML-escaped; colours are fixed and distinguishable in greyscale print.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

__all__ = ["PALETTE", "bar_chart", "histogram", "line_chart", "map_chart", "nice_ticks"]

PALETTE = ("#2e7d32", "#1565c0", "#ef6c00", "#6a1b9a", "#c62828", "#00838f")
_FONT = "font-family:'Noto Sans CJK SC','Source Han Sans SC',sans-serif;font-size:11px"
_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 36


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round axis ticks covering [low, high] (1, 2, 2.5 or 5 × 10^k steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    # A span too small to label (or zero) gets a unit-sized axis around the value.
    if high - low <= 1e-9 * max(1.0, abs(low), abs(high)):
        low, high = low - max(abs(low), 1.0) * 0.5, high + max(abs(high), 1.0) * 0.5
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < high - (high - low) * 1e-12:
        ticks.append(round(start + len(ticks) * step, 10))
    if len(ticks) == 1:
        ticks.append(round(start + step, 10))
    return ticks


def _label(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1e8:
        return f"{value / 1e8:.4g}亿"
    if magnitude >= 1e4:
        return f"{value / 1e4:.4g}万"
    if magnitude == int(magnitude):
        return f"{int(value)}"
    return f"{value:.3g}"


def _open(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}" '
        f'style="{_FONT}">',
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text>",
    ]


class _Frame:
    """Maps data coordinates to the plot area and draws the axes."""

    def __init__(self, x_low: float, x_high: float, y_values: Iterable[float]) -> None:
        ys = [v for v in y_values if math.isfinite(v)] or [0.0]
        self.y_ticks = nice_ticks(min(0.0, *ys), max(0.0, *ys))
        self.y_low, self.y_high = self.y_ticks[0], self.y_ticks[-1]
        self.x_low, self.x_high = x_low, x_high if x_high > x_low else x_low + 1

    def x(self, value: float) -> float:
        span = self.x_high - self.x_low
        return _LEFT + (value - self.x_low) / span * (_W - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        span = self.y_high - self.y_low or 1.0
        return _H - _BOTTOM - (value - self.y_low) / span * (_H - _TOP - _BOTTOM)

    def axes(self, x_ticks: Sequence[float], y_title: str) -> list[str]:
        out = []
        for tick in self.y_ticks:
            y = self.y(tick)
            out.append(
                f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" '
                f'stroke="{"#555" if tick == 0 else "#ddd"}" stroke-width="1"/>'
            )
            out.append(
                f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>'
            )
        for tick in x_ticks:
            x = self.x(tick)
            out.append(
                f'<text x="{x:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle">'
                f"{escape(_label(tick))}</text>"
            )
        out.append(
            f'<text x="12" y="{(_TOP + _H - _BOTTOM) / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {(_TOP + _H - _BOTTOM) / 2:.1f})">{escape(y_title)}</text>'
        )
        return out


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        x = _LEFT + 8 + i * 150
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{_TOP - 2}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{_TOP + 7}">{escape(name)}</text>')
    return out


def _x_ticks(xs: Sequence[float]) -> list[float]:
    if not xs:
        return []
    step = max(1, math.ceil(len(xs) / 10))
    return [float(x) for x in xs[::step]]


def line_chart(
    title: str, xs: Sequence[float], series: Mapping[str, Sequence[float]], *, y_title: str = ""
) -> str:
    """Lines over shared x values (e.g. years → cumulative tonnes per scenario)."""
    values = [v for ys in series.values() for v in ys]
    frame = _Frame(float(min(xs, default=0)), float(max(xs, default=1)), values)
    out = _open(title, _W, _H) + frame.axes(_x_ticks(xs), y_title)
    for i, (_name, ys) in enumerate(series.items()):
        points = " ".join(
            f"{frame.x(x):.1f},{frame.y(y):.1f}"
            for x, y in zip(xs, ys, strict=True)
            if math.isfinite(y)
        )
        out.append(
            f'<polyline fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="2" '
            f'points="{points}"/>'
        )
    out += _legend(list(series))
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, xs: Sequence[float], ys: Sequence[float], *, y_title: str = "") -> str:
    """Bars from zero (negative values below the axis in red), e.g. yearly net cash flow."""
    frame = _Frame(float(min(xs, default=0)) - 0.5, float(max(xs, default=0)) + 0.5, ys)
    out = _open(title, _W, _H) + frame.axes(_x_ticks(xs), y_title)
    width = max(1.0, (frame.x(1) - frame.x(0)) * 0.7) if xs else 1.0
    zero = frame.y(0.0)
    for x, y in zip(xs, ys, strict=True):
        if not math.isfinite(y):
            continue
        top = min(frame.y(y), zero)
        height = abs(frame.y(y) - zero)
        colour = PALETTE[0] if y >= 0 else PALETTE[4]
        out.append(
            f'<rect x="{frame.x(x) - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="{colour}"/>'
        )
    out.append("</svg>")
    return "\n".join(out)


def histogram(
    title: str,
    edges: Sequence[float],
    counts: Sequence[float],
    *,
    marks: Mapping[str, float] | None = None,
    x_title: str = "",
) -> str:
    """A histogram from bin ``edges`` (len(counts) + 1) with vertical lines at ``marks``."""
    if len(edges) != len(counts) + 1:
        raise ValueError("histogram needs len(edges) == len(counts) + 1")
    frame = _Frame(float(edges[0]) if edges else 0.0, float(edges[-1]) if edges else 1.0, counts)
    out = _open(title, _W, _H) + frame.axes(nice_ticks(frame.x_low, frame.x_high)[1:-1], "")
    for left, right, count in zip(edges[:-1], edges[1:], counts, strict=True):
        top = frame.y(count)
        out.append(
            f'<rect x="{frame.x(left):.1f}" y="{top:.1f}" '
            f'width="{max(frame.x(right) - frame.x(left) - 1, 0.5):.1f}" '
            f'height="{frame.y(0.0) - top:.1f}" fill="{PALETTE[1]}"/>'
        )
    for i, (name, value) in enumerate((marks or {}).items()):
        if not math.isfinite(value):
            continue
        x = frame.x(value)
        out.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_H - _BOTTOM}" '
            f'stroke="{PALETTE[2 + i % 3]}" stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
        out.append(
            f'<text x="{x + 3:.1f}" y="{_TOP + 12 + 12 * i}">{escape(name)} {_label(value)}</text>'
        )
    if x_title:
        out.append(
            f'<text x="{_W / 2:.1f}" y="{_H - 4}" text-anchor="middle">{escape(x_title)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


Ring = Sequence[tuple[float, float]]


def map_chart(
    title: str,
    shapes: Sequence[tuple[Sequence[Ring], str]],
    legend: Mapping[str, str],
    *,
    size: int = 640,
) -> str:
    """Polygons (each a list of rings in projected metres, and a category) filled by category.

    ``legend`` maps each category to its label, in drawing order; the map keeps the aspect ratio
    of the data (projected coordinates; y grows northwards).
    """
    xs = [x for rings, _ in shapes for ring in rings for x, _y in ring]
    ys = [y for rings, _ in shapes for ring in rings for _x, y in ring]
    height = size
    out = _open(title, size, height)
    if not xs:
        out.append("</svg>")
        return "\n".join(out)
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span = max(x1 - x0, y1 - y0) or 1.0
    scale = (size - 40) / span
    colours = {category: PALETTE[i % len(PALETTE)] for i, category in enumerate(legend)}
    for rings, category in shapes:
        path = " ".join(
            "M"
            + " L".join(
                f"{20 + (x - x0) * scale:.1f},{height - 20 - (y - y0) * scale:.1f}" for x, y in ring
            )
            + " Z"
            for ring in rings
            if len(ring) >= 3
        )
        out.append(
            f'<path d="{path}" fill="{colours.get(category, "#bbb")}" fill-rule="evenodd" '
            f'stroke="#fff" stroke-width="0.3"/>'
        )
    for i, (category, label) in enumerate(legend.items()):
        out.append(
            f'<rect x="24" y="{26 + 14 * i}" width="10" height="10" fill="{colours[category]}"/>'
        )
        out.append(f'<text x="38" y="{35 + 14 * i}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
