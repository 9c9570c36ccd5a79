"""GET /api/tables and /api/tables/<id>: each synced table with its status and figures, for scripts and monitoring.

The same filters as the Tables page (``status``, ``source``, ``schema``, ``name``, ``sort``), paged with
``top`` (at most 1,000) and ``continuationToken`` (an offset, as the previous answer gives it).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from syncjobs.access import Role
from syncjobs.api.auth import api_view
from syncjobs.api.responses import ApiError, bad_request, ok
from syncjobs.models import SyncedTable
from syncjobs.services import tables

MAX_TOP = 1000


@api_view(GET=Role.VIEWER)
def table_list(request: HttpRequest) -> HttpResponse:
    """The synced tables the filters select, with counts by status."""
    now = timezone.now()
    tables.prepare(now)
    filters = tables.TableFilters.from_query(request.GET)
    if filters.errors:
        field, message = next(iter(filters.errors.items()))
        raise bad_request(field, f"{field} must be {message}")
    top = _whole(request.GET.get("top", "100"), "top", 1, MAX_TOP)
    start = _whole(request.GET.get("continuationToken") or "0", "continuationToken", 0, 10**9)
    counts = tables.status_counts(filters, now)
    page = list(tables.listed(filters, now)[start : start + top + 1])
    more = len(page) > top
    return ok(
        {
            "value": [tables.as_dict(t, now) for t in tables.annotated_rows(page[:top])],
            "count": tables.selected_count(filters, counts),
            "countsByStatus": counts,
            "continuationToken": str(start + top) if more else None,
        }
    )


@api_view(GET=Role.VIEWER)
def table_item(request: HttpRequest, table_id: str) -> HttpResponse:
    """One synced table, by its id (its watermark's)."""
    now = timezone.now()
    tables.prepare(now)
    pk = _whole(table_id, "table_id", 1, 2**63 - 1)
    table = SyncedTable.objects.with_status(now).select_related("watermark").filter(pk=pk).first()
    if table is None:
        raise ApiError(404, "NotFound", f"no synced table with id {table_id}")
    return ok(tables.as_dict(tables.annotated_rows([table])[0], now))


def _whole(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(name, f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise bad_request(name, f"{name} must be between {low} and {high}")
    return number
