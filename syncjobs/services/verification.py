"""verify_sync: the sink's change windows of one table replayed against the source (the engine does the work)."""

from __future__ import annotations

import copy
from typing import Any

from syncjobs.engine import bindings
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.expressions import ExpressionContext, resolve
from syncjobs.engine.types import TableName
from syncjobs.engine.verification import VerifyReport, verify_table
from syncjobs.models import Dataset, LinkedService


def verify_sync(linked_service: str, table: str, sink_dataset: str) -> VerifyReport:
    """Replay ``sink_dataset``'s windows of ``table`` (from ``linked_service``) and compare with the source.

    Raises TerminalError (``not_found``) for a name that does not exist, and the engine's errors when
    the source or the sink cannot be read.
    """
    source_service = LinkedService.objects.filter(name__iexact=linked_service.strip()).first()
    if source_service is None or not bindings.is_source(source_service.definition):
        raise TerminalError("not_found", f"no database linked service named {linked_service!r}")
    dataset = Dataset.objects.select_related("linked_service").filter(name__iexact=sink_dataset.strip()).first()
    if dataset is None or not bindings.is_sink(dataset.linked_service.definition):
        raise TerminalError("not_found", f"no file dataset named {sink_dataset!r}")
    definition = resolved_dataset(dataset.definition)
    source = bindings.source_for(source_service.revealed_definition())
    sink = bindings.sink_for(dataset.linked_service.revealed_definition())
    try:
        fmt = bindings.format_for(definition)
        return verify_table(source, TableName.parse(table), sink, fmt, bindings.folder_for(definition))
    finally:
        sink.close()
        source.close()


def resolved_dataset(definition: dict[str, Any]) -> dict[str, Any]:
    """The dataset with ``@dataset()`` expressions evaluated on its parameters' defaults (as a run without
    parameters would see it); its file name is left alone (windows name their own files)."""
    resolved = copy.deepcopy(definition)
    props = resolved.setdefault("properties", {})
    defaults = {name: (spec or {}).get("defaultValue") for name, spec in (props.get("parameters") or {}).items()}
    context = ExpressionContext(dataset=defaults)
    props["typeProperties"] = resolve(props.get("typeProperties") or {}, context, frozenset({"fileName"}))
    return resolved
