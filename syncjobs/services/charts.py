"""Pictures: line charts as SVG geometry, and watermarks with their versions over time and lag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.models import Watermark

WIDTH, HEIGHT, PAD = 600, 160, 8


@dataclass
class LineChart:
    """An SVG polyline (``points``) and dots for ``values``; ``maximum`` labels the y axis."""

    points: str
    dots: list[tuple[float, float, Any]]
    maximum: float
    width: int = WIDTH
    height: int = HEIGHT


def line_chart(rows: list[dict[str, Any]], key: str) -> LineChart:
    """``rows[i][key]`` against their order, scaled into the chart."""
    values = [float(r[key] or 0) for r in rows]
    if not values:
        return LineChart("", [], 0)
    top = max(values) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    dots = [
        (round(PAD + i * step, 1), round(HEIGHT - PAD - v / top * (HEIGHT - 2 * PAD), 1), rows[i])
        for i, v in enumerate(values)
    ]
    return LineChart(" ".join(f"{x},{y}" for x, y, _ in dots), dots, max(values))


def watermark_views(lag_for: str | None) -> list[dict[str, Any]]:
    """Every watermark with its windows charted; the source's lag is read live only for ``lag_for`` (an id)."""
    views = []
    for watermark in Watermark.objects.select_related("linked_service").order_by(
        "linked_service__name", "source_table"
    ):
        windows = list(watermark.windows.order_by("-created_at")[:50])[::-1]
        rows = [{"version": w.new_version, "window": w} for w in windows]
        view = {"watermark": watermark, "chart": line_chart(rows, "version"), "windows": windows[-5:][::-1]}
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
