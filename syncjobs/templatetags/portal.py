"""Template filters: JSON blocks, lists, durations, sizes."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """Pretty JSON (escaped by the template as usual)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def listing(value: Any) -> str:
    """A list as ``a, b, c`` (``none`` when empty); anything else as text."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


@register.filter
def duration(ms: int | None) -> str:
    """Milliseconds as ``850 ms``, ``12.4 s``, ``3m 05s`` or ``2h 01m``."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def size(count: int | None) -> str:
    """Bytes as ``512 B``, ``1.2 KB``, ``3.4 MB``."""
    if count is None:
        return "—"
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
