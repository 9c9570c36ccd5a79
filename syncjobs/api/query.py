"""ADF's run queries: time window, filters, orderBy and continuation tokens over a queryset.

Every part of the body is checked before any SQL runs, and a mistake is a 400 whose ``target`` is the
JSON path at fault (``filters[1].values[0]``), never a database error.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

from syncjobs.api.responses import bad_request
from syncjobs.timestamps import TimestampError, parse_timestamp

PAGE_SIZE = 100
OPERATORS = ("Equals", "NotEquals", "In", "NotIn")
ORDERS = ("ASC", "DESC")
MAX_FILTERS, MAX_VALUES, MAX_ORDERS = 20, 1000, 10
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Operand:
    """A filter operand: the model field it reads and how one of its values is read."""

    field: str
    read: Callable[[Any], Any]


def text_value(value: Any) -> str:
    """A string value without control characters (PostgreSQL refuses NUL, and no name holds one)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    return value


def uuid_value(value: Any) -> uuid.UUID:
    """A run or group id."""
    try:
        return uuid.UUID(text_value(value))
    except ValueError:
        raise ValueError(f"must be a run id (a UUID), not {str(value)[:40]!r}") from None


def time_value(value: Any) -> datetime:
    """An ISO 8601 timestamp."""
    try:
        return parse_timestamp(value)
    except TimestampError as exc:
        raise ValueError(str(exc)) from None


def bool_value(value: Any) -> bool:
    """``true``/``false``, as JSON or as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("must be true or false")


def timestamp(data: dict[str, Any], key: str) -> datetime:
    """A required ISO 8601 timestamp of the body."""
    if data.get(key) in (None, ""):
        raise bad_request(key, "is required, as an ISO 8601 timestamp")
    try:
        return parse_timestamp(data[key])
    except TimestampError as exc:
        raise bad_request(key, str(exc)) from None


def apply_filters(rows: QuerySet, filters: Any, operands: dict[str, Operand]) -> QuerySet:
    """``[{"operand", "operator", "values"}]``, each checked, operands mapped to model fields."""
    for i, spec in enumerate(_items(filters, "filters", MAX_FILTERS)):
        here = f"filters[{i}]"
        operand = _choice(spec, "operand", here, tuple(operands))
        operator = _choice(spec, "operator", here, OPERATORS)
        values = [
            _value(operands[operand], value, f"{here}.values[{j}]")
            for j, value in enumerate(_items(spec.get("values"), f"{here}.values", MAX_VALUES, required=True))
        ]
        condition = Q(**{f"{operands[operand].field}__in": values})
        rows = rows.filter(condition) if operator in ("Equals", "In") else rows.exclude(condition)
    return rows


def apply_order(rows: QuerySet, order_by: Any, fields: dict[str, str], default: str) -> QuerySet:
    """``[{"orderBy", "order": "ASC"|"DESC"}]``, then a stable tie-break on the primary key."""
    orders: list[OrderBy | str] = []
    for i, spec in enumerate(_items(order_by, "orderBy", MAX_ORDERS)):
        name = _choice(spec, "orderBy", f"orderBy[{i}]", tuple(fields))
        order = spec.get("order", "ASC")
        if not isinstance(order, str) or order.upper() not in ORDERS:
            raise bad_request(f"orderBy[{i}].order", f"must be ASC or DESC, not {str(order)[:40]!r}")
        expression = F(fields[name])
        orders.append(expression.desc(nulls_last=True) if order.upper() == "DESC" else expression.asc(nulls_last=True))
    return rows.order_by(*(orders or [default]), "pk")


def page(rows: QuerySet, token: Any) -> tuple[list[Any], str | None]:
    """One page of ``rows`` from the continuation token, and the next token (None on the last page)."""
    offset = _offset(token)
    items = list(rows[offset : offset + PAGE_SIZE + 1])
    following = None
    if len(items) > PAGE_SIZE:
        following = base64.urlsafe_b64encode(json.dumps({"offset": offset + PAGE_SIZE}).encode()).decode()
    return items[:PAGE_SIZE], following


def _offset(token: Any) -> int:
    if token in (None, ""):
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text_value(token).encode("ascii")))
        offset = decoded["offset"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise bad_request("continuationToken", "is not one this API gave out")
    return offset


def _items(node: Any, path: str, most: int, *, required: bool = False) -> list[dict[str, Any]] | list[Any]:
    if node is None and not required:
        return []
    if not isinstance(node, list):
        raise bad_request(path, "must be an array" + (" (required)" if required and node is None else ""))
    if len(node) > most:
        raise bad_request(path, f"holds {len(node)} entries; at most {most} are accepted")
    if path in ("filters", "orderBy"):
        for i, item in enumerate(node):
            if not isinstance(item, dict):
                raise bad_request(f"{path}[{i}]", "must be an object")
    return node


def _choice(spec: dict[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> str:
    value = spec.get(key)
    if value not in allowed:
        shown = str(value)[:40] if value is not None else "nothing"
        raise bad_request(f"{path}.{key}", f"must be one of {', '.join(allowed)} (got {shown!r})")
    return value


def _value(operand: Operand, value: Any, path: str) -> Any:
    try:
        return operand.read(value)
    except ValueError as exc:
        raise bad_request(path, str(exc)) from None
