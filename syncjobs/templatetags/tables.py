"""Template filters of the Tables area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    """``mapping[key]`` (None when missing)."""
    return mapping.get(key)


@register.filter
def hours_left(table: Any, now: datetime) -> float | None:
    """Hours before a synced table's changes may leave the source's retention."""
    return table.retention_hours_left(now)
