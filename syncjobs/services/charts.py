"""Charts as server-side SVG: values over time, with labelled axes, ticks, units and a hover title per point.

Plain SVG rather than a vendored JavaScript library: the portal's pages render on the server and work
without scripts; an SVG ``<title>`` is the browser's own hover text (and what screen readers read);
the figures are in the HTML, so tests and copy-paste see them; and there is no file to pin and update.
The geometry is computed here and drawn by ``templates/partials/chart.html``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.models import Watermark

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 44  # room for the y tick labels, the x tick labels and the axis titles


@dataclass(frozen=True)
class Tick:
    """A tick mark: its position along its axis (SVG units) and its label."""

    at: float
    label: str


@dataclass(frozen=True)
class Point:
    """A value drawn at (x, y); ``title`` is its hover text: when, and the value with its unit."""

    x: float
    y: float
    title: str
    height: float = 0.0  # a bar's height (bar charts)
    bar_left: float = 0.0  # a bar's left edge (bar charts)


@dataclass
class Chart:
    """An SVG chart: its points, a polyline through them (line charts), the axes' ticks and titles."""

    title: str
    x_title: str
    y_title: str
    kind: str = "line"  # or "bars"
    points: list[Point] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    bar_width: float = 0.0
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right_edge: int = WIDTH - RIGHT
    bottom_edge: int = HEIGHT - BOTTOM

    @property
    def polyline(self) -> str:
        """The points as an SVG ``points`` attribute."""
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def x_middle(self) -> float:
        """Where the x axis title is centred."""
        return (self.left + self.right_edge) / 2

    @property
    def y_middle(self) -> float:
        """Where the y axis title is centred."""
        return (self.top + self.bottom_edge) / 2


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def number(value: float) -> str:
    """A tick label: 1,500 → ``1.5k``; 2,000,000 → ``2M``; small values as they are."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.3g}" if value % 1 else str(int(value))


def time_ticks(start: datetime, end: datetime, count: int = 5) -> list[tuple[datetime, str]]:
    """Evenly spaced moments from ``start`` to ``end``, labelled finely enough to tell them apart (UTC)."""
    span = (end - start).total_seconds()
    fmt = "%H:%M:%S" if span < 600 else "%H:%M" if span < 86400 else "%d %b %H:%M" if span < 7 * 86400 else "%Y-%m-%d"
    moments = [start + timedelta(seconds=span * i / (count - 1)) for i in range(count)]
    return [(m, m.astimezone(UTC).strftime(fmt)) for m in moments]


def time_chart(
    series: Sequence[tuple[datetime, float]],
    *,
    title: str,
    y_title: str,
    unit: str,
    kind: str = "line",
) -> Chart:
    """``(when, value)`` pairs (oldest first) drawn against time, in ``unit`` (shown in every hover title)."""
    chart = Chart(title, "Time (UTC)", y_title, kind)
    if not series:
        return chart
    start, end = series[0][0], series[-1][0]
    if end <= start:
        start, end = start - timedelta(minutes=30), end + timedelta(minutes=30)
    y_values = nice_ticks(max(v for _, v in series))
    span_x, span_y = chart.right_edge - chart.left, chart.bottom_edge - chart.top
    pad = 12 if kind == "bars" else 0  # bars stay inside the plot

    def x_of(moment: datetime) -> float:
        return round(chart.left + pad + (moment - start) / (end - start) * (span_x - 2 * pad), 1)

    def y_of(value: float) -> float:
        return round(chart.bottom_edge - value / y_values[-1] * span_y, 1)

    chart.bar_width = round(max(2.0, min(24.0, (span_x - 2 * pad) / len(series) * 0.6)), 1)
    chart.points = [
        Point(
            x_of(when),
            y_of(value),
            f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: {number(value)} {unit}",
            round(chart.bottom_edge - y_of(value), 1),
            round(x_of(when) - chart.bar_width / 2, 1),
        )
        for when, value in series
    ]
    chart.x_ticks = [Tick(x_of(m), label) for m, label in time_ticks(start, end)]
    chart.y_ticks = [Tick(y_of(v), number(v)) for v in y_values]
    return chart


def pipeline_charts(history: list[dict[str, Any]]) -> list[Chart]:
    """A pipeline's runs over time: duration per run, and rows copied per run."""
    started = [r for r in history if r.get("start")]
    return [
        time_chart(
            [(r["start"], r["seconds"]) for r in started], title="Duration per run", y_title="Duration (s)", unit="s"
        ),
        time_chart(
            [(r["start"], r["rows"]) for r in started],
            title="Rows copied per run",
            y_title="Rows",
            unit="rows",
            kind="bars",
        ),
    ]


def watermark_views(lag_for: str | None) -> list[dict[str, Any]]:
    """Every watermark with its versions over time charted; the source's lag is read live only for ``lag_for``."""
    views = []
    for watermark in Watermark.objects.select_related("linked_service").order_by(
        "linked_service__name", "source_table"
    ):
        windows = list(watermark.windows.order_by("-created_at")[:50])[::-1]
        chart = time_chart(
            [(w.created_at, w.new_version) for w in windows],
            title="Versions over time",
            y_title="Version",
            unit="(version)",
        )
        view = {"watermark": watermark, "chart": chart, "windows": windows[-5:][::-1]}
        if lag_for and str(watermark.pk) == lag_for:
            view["lag"] = _lag(watermark)
        views.append(view)
    return views


def _lag(watermark: Watermark) -> dict[str, Any]:
    """How many versions the source is ahead of the watermark (needs a live connection)."""
    try:
        source = bindings.source_for(watermark.linked_service.revealed_definition())
    except EngineError as exc:
        return {"error": exc.message}
    try:
        with source.snapshot() as snapshot:
            current = snapshot.current_version()
    except EngineError as exc:
        return {"error": exc.message}
    finally:
        source.close()
    return {"current": current, "behind": current - (watermark.version or 0)}
