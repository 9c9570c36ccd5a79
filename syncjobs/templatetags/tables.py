"""Template filters of the Tables area."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    """``mapping[key]`` (None when missing)."""
    return mapping.get(key)
