"""JSON from outside (request bodies, form fields, files, ``json()`` in expressions), read strictly.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``1e999`` (read as infinity), which no
JSON column, no JSON client and no ADF definition can hold, and it recurses without a bound. Here those
are refused with a message that says where, so callers answer a 400 or a form error instead of failing
later when the value is stored or used.
"""

from __future__ import annotations

import json
import math
from typing import Any

from syncjobs.engine.limits import INTEGER_RANGE, JSON_DEPTH


class JsonTextError(ValueError):
    """Text that is not JSON this portal accepts; ``path`` says where (``""`` for the text as a whole)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


def loads(text: str | bytes, *, max_depth: int = JSON_DEPTH) -> Any:
    """Parse ``text``; raise :class:`JsonTextError` for invalid JSON, non-finite or huge numbers, or deep nesting."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except JsonTextError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise JsonTextError("not valid JSON: the text is not UTF-8") from None
    except RecursionError:
        raise JsonTextError(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise JsonTextError(f"not valid JSON: {exc}") from None
    check_value(value, max_depth)
    return value


def check_value(value: Any, max_depth: int = JSON_DEPTH) -> None:
    """Raise :class:`JsonTextError` when ``value`` nests deeper than ``max_depth`` or holds a NUL character.

    PostgreSQL's jsonb cannot store ``\u0000``, and no name, query or path needs one.
    """
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                raise JsonTextError("the NUL character (\\u0000) is not accepted in strings")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise JsonTextError(f"nested deeper than {max_depth} levels")
        stack.extend((key, depth) for key in node if isinstance(node, dict))
        stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


def _constant(name: str) -> Any:
    raise JsonTextError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonTextError(f"the number {text} is out of range")
    return value


def _int(text: str) -> int:
    value = int(text) if len(text) <= 20 else INTEGER_RANGE[1] + 1  # never convert thousands of digits
    if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
        raise JsonTextError(f"the integer {text[:30]} is out of range (64-bit integers only)")
    return value
