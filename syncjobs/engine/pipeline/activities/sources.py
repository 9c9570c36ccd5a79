"""Reading from a dataset's source: the source object, the query or table, JSON-safe rows."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.step import Step
from syncjobs.engine.sources import FullTable, Query, Source

_QUERY_KEYS = ("sqlReaderQuery", "query")


@contextmanager
def opened_source(step: Step, linked_service_name: str) -> Iterator[Source]:
    """The source behind a linked service, closed afterwards."""
    source = bindings.source_for(step.state.linked_service(linked_service_name))
    try:
        yield source
    finally:
        source.close()


def dataset_source_name(dataset: dict[str, Any]) -> str:
    """The name of the linked service a dataset reads from."""
    return str(((dataset.get("properties") or {}).get("linkedServiceName") or {}).get("referenceName", ""))


def query_of(source_settings: dict[str, Any]) -> str | None:
    """The copy or lookup source's query (``sqlReaderQuery`` or ``query``), if it has one."""
    for key in _QUERY_KEYS:
        value = source_settings.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def rowset(source: Source, dataset: dict[str, Any], source_settings: dict[str, Any]) -> Query | FullTable:
    """The query when one is given, else the dataset's whole table."""
    query = query_of(source_settings)
    if query is not None:
        return Query(query)
    if not (dataset.get("properties") or {}).get("typeProperties"):
        raise TerminalError("bad_activity", "the source has no query and its dataset names no table")
    name = bindings.table_name_for(dataset)
    with source.snapshot() as snapshot:
        return FullTable(snapshot.describe(name))


def json_value(value: Any) -> Any:
    """A value as ADF's lookup output shows it: numbers stay numbers, times become ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
