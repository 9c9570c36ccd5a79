"""Primary keys as positions in a table: the key ranges a full copy reads part by part, kept as JSON.

A full copy reads a table in key order, one range of keys at a time (keyset pagination): a range is
``start <= key < end`` in the database's own order (``None`` is unbounded). The database alone
compares keys, so its collation decides the order; Python only stores the values and hands them back.
Values are kept in the portal as JSON, with the types JSON lacks tagged (``{"decimal": "1.50"}``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

KeyValues = tuple[Any, ...]

_TAGS: dict[str, Callable[[str], Any]] = {
    "decimal": Decimal,
    "float": float,
    "hex": bytes.fromhex,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "uuid": UUID,
}


def _encoded(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"hex": bytes(value).hex()}
    for tag, kind in (("datetime", datetime), ("date", date), ("time", time), ("uuid", UUID)):
        if isinstance(value, kind):
            return {tag: str(value) if tag == "uuid" else value.isoformat()}
    raise TypeError(f"a key value of type {type(value).__name__} cannot be kept")


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        return _TAGS[tag](text)
    return value


def key_to_json(values: KeyValues | None) -> list[Any] | None:
    """A key's values as JSON (None stays None: the unbounded end)."""
    return None if values is None else [_encoded(v) for v in values]


def key_from_json(data: Sequence[Any] | None) -> KeyValues | None:
    """The key values ``key_to_json`` kept."""
    return None if data is None else tuple(_decoded(v) for v in data)


@dataclass(frozen=True)
class KeyRange:
    """The rows whose primary key is ``>= start`` and ``< end`` (None: unbounded on that side)."""

    start: KeyValues | None = None
    end: KeyValues | None = None

    @property
    def is_everything(self) -> bool:
        """True for the whole table (no bound on either side)."""
        return self.start is None and self.end is None

    def to_json(self) -> dict[str, Any]:
        """The range as JSON."""
        return {"start": key_to_json(self.start), "end": key_to_json(self.end)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRange:
        """The range ``to_json`` wrote."""
        return cls(key_from_json(data.get("start")), key_from_json(data.get("end")))
