"""Tiny server-rendered SVG charts: geometry only, the template draws the elements.

No chart library and no script: a polyline per series, scaled into a fixed viewBox.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 600.0, 120.0


@dataclass(frozen=True, slots=True)
class Line:
    points: str
    """``x,y x,y ...`` for an SVG polyline (empty: no data)."""
    area: str
    """The same, closed along the bottom edge, for a filled polygon."""
    top: float
    """The value at the top edge."""
    last: float | None


def line(times: list[float], values: list[float], start: float, end: float) -> Line:
    if not values:
        return Line("", "", 0.0, None)
    top = max(max(values), 1.0)
    span = max(end - start, 1.0)
    xy = [
        ((t - start) / span * WIDTH, HEIGHT - v / top * (HEIGHT - 4))
        for t, v in zip(times, values, strict=True)
    ]
    if len(xy) == 1:  # one sample is still a visible mark, not an empty chart
        xy.insert(0, (max(0.0, xy[0][0] - 4), xy[0][1]))
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    area = f"{xy[0][0]:.1f},{HEIGHT} {pts} {xy[-1][0]:.1f},{HEIGHT}"
    return Line(pts, area, top, values[-1])


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    width: float
    """Percentage of the longest bar."""


def bars(counts: dict[str, int]) -> list[Bar]:
    top = max(counts.values(), default=0) or 1
    return [Bar(k, v, 100.0 * v / top) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
