"""ADF's run queries: time window, filters, orderBy and continuation tokens over a queryset."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime

from syncjobs.api.responses import ApiError

PAGE_SIZE = 100
_OPERATORS = ("Equals", "NotEquals", "In", "NotIn")


def timestamp(data: dict[str, Any], key: str) -> datetime:
    """A required ISO 8601 timestamp of the body."""
    text = data.get(key)
    value = parse_datetime(str(text)) if text else None
    if value is None:
        raise ApiError(400, "BadRequest", f"'{key}' is required, as an ISO 8601 timestamp")
    return value


def apply_filters(rows: QuerySet, filters: Any, fields: dict[str, str]) -> QuerySet:
    """``[{"operand", "operator", "values"}]`` with operands mapped to model fields."""
    for spec in filters or []:
        operand, operator, values = spec.get("operand"), spec.get("operator"), spec.get("values") or []
        if operand not in fields:
            raise ApiError(400, "BadRequest", f"unknown filter operand {operand!r} (one of {', '.join(fields)})")
        if operator not in _OPERATORS:
            raise ApiError(400, "BadRequest", f"unknown filter operator {operator!r} (one of {', '.join(_OPERATORS)})")
        field = fields[operand]
        if field == "is_latest":
            values = [str(v).lower() == "true" for v in values]
        condition = Q(**{f"{field}__in": values})
        rows = rows.filter(condition) if operator in ("Equals", "In") else rows.exclude(condition)
    return rows


def apply_order(rows: QuerySet, order_by: Any, fields: dict[str, str], default: str) -> QuerySet:
    """``[{"orderBy", "order": "ASC"|"DESC"}]``, then a stable tie-break on the primary key."""
    orders = []
    for spec in order_by or []:
        name = spec.get("orderBy")
        if name not in fields:
            raise ApiError(400, "BadRequest", f"cannot order by {name!r} (one of {', '.join(fields)})")
        descending = str(spec.get("order", "ASC")).upper() == "DESC"
        expression = F(fields[name])
        orders.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True))
    return rows.order_by(*(orders or [default]), "pk")


def page(rows: QuerySet, token: Any) -> tuple[list[Any], str | None]:
    """One page of ``rows`` from the continuation token, and the next token (None on the last page)."""
    offset = 0
    if token:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(str(token)))["offset"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "BadRequest", "continuationToken is not one this API gave out") from None
    items = list(rows[offset : offset + PAGE_SIZE + 1])
    following = None
    if len(items) > PAGE_SIZE:
        following = base64.urlsafe_b64encode(json.dumps({"offset": offset + PAGE_SIZE}).encode()).decode()
    return items[:PAGE_SIZE], following
