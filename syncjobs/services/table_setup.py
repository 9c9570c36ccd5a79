"""Adding tables to sync: the wizard's objects, made as ordinary ADF definitions.

``add_tables`` turns "these tables of that database, to this folder of that store, every 15 minutes" into
what a person could have written in ADF Studio, saved through ``definitions.import_definitions`` (one
transaction, validated, audited), so they show, export, import and run like any other object:

- one source table dataset ``<name>_Source`` (it names the linked service; the activity's
  ``typeProperties.tables`` names the tables, so 200 tables do not need 200 datasets);
- one sink dataset per folder root ``<name>_Sink`` (``<name>_Sink_<schema>`` when the folder holds
  ``{schema}``), DelimitedText (CSV, or gzip for CSV.gz) or Parquet;
- one pipeline ``<name>`` with one ``ChangeTrackingCopy`` activity per sink dataset, listing its tables;
- a ``ScheduleTrigger`` ``<name>_Schedule``, started, when a schedule is given.

The folder: each table's windows go in ``<root>/<schema>.<table>/`` (``engine/windows.py``), so a folder
ending in ``{table}`` or ``{schema}.{table}`` names that table folder and the rest is the root;
``{schema}`` may appear in the root (one sink dataset per schema); ``{table}`` elsewhere is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncjobs.access import SYSTEM, Actor
from syncjobs.adf.findings import DefinitionError
from syncjobs.engine import bindings, connectors
from syncjobs.engine.errors import EngineError
from syncjobs.engine.inventory import TableInfo, inventory
from syncjobs.engine.schema_drift import DEFAULT_POLICY, POLICIES
from syncjobs.engine.types import TableName
from syncjobs.models import Dataset, LinkedService, Pipeline, Trigger
from syncjobs.services import triggers
from syncjobs.services.definitions import import_definitions

FORMATS = {"csv": "CSV", "csv.gz": "CSV.gz", "parquet": "Parquet"}
FREQUENCIES = ("Minute", "Hour")
MAX_TABLES = 5_000
# A run is one worker's: a tick over more tables than this fires several pipelines, which workers share.
TABLES_PER_PIPELINE = 50
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")


class TableSetupError(ValueError):
    """What is wrong with a request to add tables, every problem in operator's words."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass
class AddedTables:
    """What ``add_tables`` created: object names, the tables synced, and those still without change tracking."""

    pipeline: str  # the first of ``pipelines``
    trigger: str | None
    datasets: list[str]
    tables: list[TableName]
    untracked: list[TableName] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # table -> its folder in the sink
    pipelines: list[str] = field(default_factory=list)  # one per TABLES_PER_PIPELINE tables, on one trigger


@dataclass(frozen=True)
class Folder:
    """A folder template split into container (blob stores), root template and table-folder part."""

    container: str
    root: str  # may hold {schema}

    def root_for(self, schema: str | None) -> str:
        """The root folder for tables of ``schema``."""
        return self.root.replace("{schema}", schema or "").strip("/").replace("//", "/")


def parse_folder(template: str, *, has_container: bool) -> Folder:
    """Check a folder template (``container/raw/{schema}/{table}``); raise TableSetupError saying what is wrong."""
    text = (template or "").strip().strip("/")
    problems = []
    unknown = sorted({p for p in _PLACEHOLDER.findall(text) if p not in ("schema", "table")})
    if unknown:
        problems.append(f"folder: unknown placeholder(s) {', '.join('{' + p + '}' for p in unknown)}")
    if any(p in (".", "..") for p in re.split(r"[/\\]", text)):
        problems.append("folder: no '..' or '.' folders: the folder is a path inside the sink")
    parts = text.split("/") if text else []
    if parts and parts[-1] in ("{table}", "{schema}.{table}"):
        parts = parts[:-1]
    if any("{table}" in p for p in parts):
        problems.append(
            "folder: {table} may only be the last folder ({table} or {schema}.{table}): "
            "each table's windows go in a folder named <schema>.<table> under the root"
        )
    container = ""
    if has_container:
        if not parts or "{" in parts[0]:
            problems.append("folder: start with the container's name (e.g. sync/{schema}/{table})")
        else:
            container, parts = parts[0], parts[1:]
    if problems:
        raise TableSetupError(problems)
    return Folder(container, "/".join(parts))


def recurrence_for(schedule: dict[str, Any] | None, now: datetime | None = None) -> dict[str, Any] | None:
    """An ADF recurrence from ``{"frequency": "Minute"|"Hour", "interval": N}`` or a recurrence as is.

    A recurrence without ``startTime`` starts at the next whole minute. Raises TableSetupError.
    """
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        raise TableSetupError(['schedule: an object such as {"frequency": "Minute", "interval": 15}'])
    recurrence = dict(schedule)
    if "startTime" not in recurrence:
        start = (now or datetime.now(UTC)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        recurrence["startTime"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    recurrence.setdefault("timeZone", "UTC")
    try:
        triggers.recurrence_of({"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}})
    except triggers.TriggerError as exc:
        raise TableSetupError([f"schedule: {exc}"]) from None
    return recurrence


def source_inventory(linked: LinkedService) -> list[TableInfo]:
    """The source's tables (schema, key, change tracking, rows, size) in one catalogue query."""
    source = bindings.source_for(linked.revealed_definition())
    try:
        return inventory(source)
    finally:
        source.close()


def add_tables(
    *,
    actor: Actor = SYSTEM,
    source: str,
    tables: Iterable[TableName | str],
    sink: str,
    folder: str,
    format: str = "csv",  # noqa: A002 - the wizard's word
    schedule: dict[str, Any] | None = None,
    name: str | None = None,
    schema_drift: str = DEFAULT_POLICY,
    start: bool = True,
    known: Sequence[TableInfo] | None = None,
) -> AddedTables:
    """Create the datasets, pipeline and (with ``schedule``) started trigger that sync ``tables``.

    ``schema_drift``: what a copy does when a table's columns change (``continue``, ``pause``, ``resync``),
    written as each activity's ``typeProperties.schemaDriftPolicy``. ``known``: the source's inventory
    when the caller already has it (else it is read here, to check each table exists and has a primary key).
    Raises TableSetupError listing every problem; nothing is created then.
    """
    added, items = preview_tables(
        source=source,
        tables=tables,
        sink=sink,
        folder=folder,
        format=format,
        schedule=schedule,
        name=name,
        schema_drift=schema_drift,
        known=known,
    )
    try:
        import_definitions(items, actor=actor)
    except DefinitionError as exc:
        raise TableSetupError([str(f) for f in exc.findings]) from None
    if added.trigger is not None and start:
        triggers.set_started(Trigger.objects.get(name=added.trigger), True, actor=actor)
    return added


def preview_tables(
    *,
    source: str,
    tables: Iterable[TableName | str],
    sink: str,
    folder: str,
    format: str = "csv",  # noqa: A002 - the wizard's word
    schedule: dict[str, Any] | None = None,
    name: str | None = None,
    schema_drift: str = DEFAULT_POLICY,
    known: Sequence[TableInfo] | None = None,
) -> tuple[AddedTables, list[tuple[str, dict[str, Any]]]]:
    """What ``add_tables`` would create, and the ADF JSON of it, without saving anything (the review page)."""
    source_ls, sink_ls = _linked(source, "source", True), _linked(sink, "sink", False)
    wanted, problems = _parse_names(tables)
    problems += _check_request(wanted, format, name)
    if schema_drift not in POLICIES:
        problems.append(f"schema drift: {schema_drift!r} is not one of {', '.join(POLICIES)}")
    sink_type = connectors.linked_service_type(sink_ls.type)
    layout = parse_folder(folder, has_container=bool(sink_type and sink_type.has_container))
    recurrence = recurrence_for(schedule)
    if problems:
        raise TableSetupError(problems)
    chosen = _resolve(wanted, known if known is not None else _read_inventory(source_ls))
    base = unique_name(name or f"Sync{source_ls.name}")
    plan = _Plan(base, source_ls, sink_ls, layout, format, chosen)
    plan.schema_drift = schema_drift
    items = plan.definitions(recurrence)
    added = AddedTables(
        pipeline=base,
        trigger=plan.trigger if recurrence is not None else None,
        datasets=[d["name"] for k, d in items if k == "dataset"],
        tables=[t.name for t in chosen],
        untracked=[t.name for t in chosen if not t.change_tracking],
        folders={str(t.name): plan.table_folder(t.name) for t in chosen},
        pipelines=plan.pipelines,
    )
    return added, items


def unique_name(wanted: str) -> str:
    """``wanted`` made a valid ADF name, with ``_2``, ``_3``... until no pipeline, trigger or dataset has it."""
    base = _NAME_CHARS.sub("_", wanted.strip())[:60] or "Sync"
    base = base if base[0].isalpha() else f"Sync_{base}"
    candidate, number = base, 1
    while _taken(candidate):
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def _taken(name: str) -> bool:
    return (
        Pipeline.objects.filter(name__iexact=name).exists()
        or Trigger.objects.filter(name__iexact=f"{name}_Schedule").exists()
        or Dataset.objects.filter(name__iexact=f"{name}_Source").exists()
        or Dataset.objects.filter(name__istartswith=f"{name}_Sink").exists()
        or Pipeline.objects.filter(name__istartswith=f"{name}_Part").exists()
    )


def _linked(name: str, role: str, is_source: bool) -> LinkedService:
    linked = LinkedService.objects.filter(name__iexact=(name or "").strip()).first()
    if linked is None:
        raise TableSetupError([f"{role}: no linked service is called {name!r}"])
    connector = connectors.connector_for(linked.type)
    if connector is None or connector.is_source != is_source:
        kind = "a database to read tables from" if is_source else "a file store to write to"
        raise TableSetupError([f"{role}: {linked.name} ({linked.type}) is not {kind}"])
    return linked


def _parse_names(tables: Iterable[TableName | str]) -> tuple[list[TableName], list[str]]:
    wanted, problems = [], []
    for table in tables:
        try:
            wanted.append(table if isinstance(table, TableName) else TableName.parse(table))
        except (ValueError, EngineError) as exc:
            problems.append(f"tables: {table!r} is not a table name ({exc})")
    return wanted, problems


def _check_request(wanted: list[TableName], fmt: str, name: str | None) -> list[str]:
    problems = []
    if not wanted:
        problems.append("tables: choose at least one table")
    if len(wanted) > MAX_TABLES:
        problems.append(f"tables: at most {MAX_TABLES} in one go")
    if len({str(t).lower() for t in wanted}) != len(wanted):
        problems.append("tables: a table is listed twice")
    if fmt not in FORMATS:
        problems.append(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if name is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,59}", name):
        problems.append("name: start with a letter; letters, digits and _ only (at most 60)")
    return problems


def _read_inventory(linked: LinkedService) -> list[TableInfo]:
    try:
        return source_inventory(linked)
    except EngineError as exc:
        raise TableSetupError([f"source: cannot list the tables of {linked.name}: {exc.message}"]) from None


def _resolve(wanted: list[TableName], known: Sequence[TableInfo]) -> list[TableInfo]:
    """The inventory entry of each wanted table; every missing or keyless one is a problem."""
    by_name = {str(t.name).lower(): t for t in known}
    by_bare: dict[str, list[TableInfo]] = {}
    for t in known:
        by_bare.setdefault(t.name.name.lower(), []).append(t)
    chosen, problems = [], []
    for name in wanted:
        found = by_name.get(str(name).lower())
        if found is None and name.schema is None and len(by_bare.get(name.name.lower(), [])) == 1:
            found = by_bare[name.name.lower()][0]
        if found is None:
            problems.append(f"{name}: no such table in the source")
        elif not found.has_key:
            problems.append(f"{found.name}: refused, {found.refusal}")
        else:
            chosen.append(found)
    if problems:
        raise TableSetupError(problems)
    return chosen


class _Plan:
    """The ADF JSON of one ``add_tables`` call."""

    def __init__(
        self, base: str, source: LinkedService, sink: LinkedService, layout: Folder, fmt: str, chosen: list[TableInfo]
    ) -> None:
        self.base, self.source, self.sink, self.layout, self.fmt = base, source, sink, layout, fmt
        self.trigger = f"{base}_Schedule"
        self.schema_drift = DEFAULT_POLICY
        self.groups: dict[str, list[TableInfo]] = {}
        for table in chosen:
            self.groups.setdefault(layout.root_for(table.name.schema), []).append(table)
        self.sinks = {
            root: f"{base}_Sink{self._suffix(index, tables)}"
            for index, (root, tables) in enumerate(self.groups.items())
        }
        self.parts = self._parts()
        self.pipelines = [base if n == 0 else f"{base}_Part{n + 1:02d}" for n in range(len(self.parts))]

    def _suffix(self, index: int, tables: list[TableInfo]) -> str:
        return "" if len(self.groups) == 1 else f"_{_NAME_CHARS.sub('_', tables[0].name.schema or str(index))}"

    def _parts(self) -> list[dict[str, list[TableInfo]]]:
        """The tables in pipelines of at most TABLES_PER_PIPELINE, each grouped by sink root."""
        flat = [(root, table) for root, tables in self.groups.items() for table in tables]
        parts: list[dict[str, list[TableInfo]]] = []
        for start in range(0, len(flat), TABLES_PER_PIPELINE):
            part: dict[str, list[TableInfo]] = {}
            for root, table in flat[start : start + TABLES_PER_PIPELINE]:
                part.setdefault(root, []).append(table)
            parts.append(part)
        return parts

    def table_folder(self, name: TableName) -> str:
        """Where the table's windows go in the sink: ``container/root/<schema>.<table>``."""
        root = "/".join(p for p in (self.layout.container, self.layout.root_for(name.schema)) if p)
        return f"{root}/{name}" if root else str(name)

    def definitions(self, recurrence: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
        """Datasets, pipelines and trigger, in the order they are saved."""
        items = [("dataset", self._source_dataset())]
        items += [("dataset", self._sink_dataset(sink, root)) for root, sink in self.sinks.items()]
        total = sum(len(t) for t in self.groups.values())
        for name, part in zip(self.pipelines, self.parts, strict=True):
            activities = [
                self._activity(
                    f"Sync{self.sinks[root].removeprefix(f'{self.base}_Sink')}"[:55], self.sinks[root], tables
                )
                for root, tables in part.items()
            ]
            count = sum(len(t) for t in part.values())
            description = f"Created by Add tables: {count} of {total} table(s) of {self.source.name}"
            items.append(
                ("pipeline", {"name": name, "properties": {"description": description, "activities": activities}})
            )
        if recurrence is not None:
            items.append(("trigger", self._trigger(recurrence)))
        return items

    def _source_dataset(self) -> dict[str, Any]:
        first = next(iter(self.groups.values()))[0].name
        kind = connectors.linked_service_type(self.source.type)
        tp = {"table": first.name, **({"schema": first.schema} if first.schema else {})}
        return {
            "name": f"{self.base}_Source",
            "properties": {
                "type": kind.dataset if kind else "",
                "description": "Source of the ChangeTrackingCopy; its typeProperties.tables lists the tables",
                "linkedServiceName": {"referenceName": self.source.name, "type": "LinkedServiceReference"},
                "typeProperties": tp,
            },
        }

    def _sink_dataset(self, name: str, root: str) -> dict[str, Any]:
        kind = connectors.linked_service_type(self.sink.type)
        location: dict[str, Any] = {"type": kind.dataset if kind else ""}
        if self.layout.container:
            location["container"] = self.layout.container
        if root:
            location["folderPath"] = root
        tp: dict[str, Any] = {"location": location}
        if self.fmt == "parquet":
            dataset_type = "Parquet"
            tp["compressionCodec"] = "snappy"
        else:
            dataset_type = "DelimitedText"
            tp.update({"columnDelimiter": ",", "quoteChar": '"', "escapeChar": "\\", "firstRowAsHeader": True})
            if self.fmt == "csv.gz":
                tp["compressionCodec"] = "gzip"
        return {
            "name": name,
            "properties": {
                "type": dataset_type,
                "linkedServiceName": {"referenceName": self.sink.name, "type": "LinkedServiceReference"},
                "typeProperties": tp,
            },
        }

    def _activity(self, name: str, sink_name: str, tables: list[TableInfo]) -> dict[str, Any]:
        listed = [
            {"schema": t.name.schema, "table": t.name.name} if t.name.schema else {"table": t.name.name} for t in tables
        ]
        return {
            "name": name,
            "type": "ChangeTrackingCopy",
            "inputs": [{"referenceName": f"{self.base}_Source", "type": "DatasetReference"}],
            "outputs": [{"referenceName": sink_name, "type": "DatasetReference"}],
            "typeProperties": {"tables": listed, "schemaDriftPolicy": self.schema_drift},
        }

    def _trigger(self, recurrence: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": self.trigger,
            "properties": {
                "type": "ScheduleTrigger",
                "typeProperties": {"recurrence": recurrence},
                "pipelines": [
                    {"pipelineReference": {"referenceName": name, "type": "PipelineReference"}}
                    for name in self.pipelines
                ],
            },
        }
