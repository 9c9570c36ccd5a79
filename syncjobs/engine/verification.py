"""Proof that a sink holds what the source holds: replay a table's windows, compare with the source.

``verify_table`` takes the table's newest generation that has a full window, replays that window's
parts and then its deltas in version order (``I`` and ``U`` upsert a row, ``D`` deletes it), checks
every file against its manifest (size, SHA-256, rows), and compares the result with the source read
in one snapshot, leaving out the keys changed after the last manifest's ``to`` (the next window will
bring them). Rows are compared in their written form: the source's rows go through the same format
and are read back the same way as the files (``formats/reading.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from syncjobs.engine.errors import EngineError
from syncjobs.engine.formats import Format
from syncjobs.engine.formats.reading import file_rows
from syncjobs.engine.sinks import Sink
from syncjobs.engine.sources import Changes, FullTable, Snapshot, Source
from syncjobs.engine.types import (
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    Batch,
    ChangeWindow,
    Column,
    Table,
    TableName,
)
from syncjobs.engine.windows import FULL_MODES, MANIFEST_NAME, generation_of, table_folder

EXAMPLES = 5  # how many examples of each kind of difference a report names


@dataclass
class VerifyReport:
    """What a replay of the sink's windows showed against the source."""

    table: str
    generation: int = 0
    windows: int = 0
    to_version: int | None = None
    source_rows: int = 0
    sink_rows: int = 0
    rows_missing: int = 0
    rows_stale: int = 0
    rows_extra: int = 0
    duplicate_deliveries: int = 0
    keys_left_out: int = 0
    files_bad: int = 0
    chain_breaks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """No row missing, stale or extra, no change delivered twice, no bad file, no broken chain."""
        counts = (self.rows_missing, self.rows_stale, self.rows_extra, self.duplicate_deliveries)
        return not any(counts) and not self.files_bad and not self.chain_breaks and not self.problems

    def note(self, text: str) -> None:
        """Keep an example (the first few of each kind)."""
        kind = text.split(":", 1)[0]
        if sum(p.startswith(kind + ":") for p in self.problems) < EXAMPLES:
            self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {**asdict(self), "exact": self.exact}


@dataclass(frozen=True)
class _Layout:
    """Where a window's files hold keys, data, versions and operations (from its manifest's columns).

    ``data`` follows the table's columns now (``target``): after schema drift a window written before
    a column was added lacks it (``None`` there; the row reads as NULL, ``absent``, as the source's
    untouched rows hold it), and a dropped column is left out.
    """

    keys: tuple[int, ...]
    data: tuple[int | None, ...]
    version: int | None
    operation: int | None
    absent: Any = None

    @classmethod
    def of(
        cls, names: Sequence[str], key_names: Sequence[str], target: Sequence[str] | None = None, absent: Any = None
    ) -> _Layout:
        position = {n: i for i, n in enumerate(names)}
        wanted = [n for n in names if not n.startswith("SYS_CHANGE_")] if target is None else target
        return cls(
            tuple(position[k] for k in key_names),
            tuple(position.get(n) for n in wanted),
            position.get(SYS_CHANGE_VERSION),
            position.get(SYS_CHANGE_OPERATION),
            absent,
        )

    def key(self, row: Sequence[Any]) -> str:
        return repr(tuple(row[i] for i in self.keys))

    def digest(self, row: Sequence[Any]) -> bytes:
        values = repr(tuple(self.absent if i is None else row[i] for i in self.data)).encode()
        return hashlib.blake2b(values, digest_size=16).digest()


def verify_table(
    source: Source, table_name: TableName, sink: Sink, fmt: Format, root: str, *, chunk_rows: int = 20_000
) -> VerifyReport:
    """Replay the sink's windows of ``table_name`` under ``root`` and compare them with the source."""
    report = VerifyReport(str(table_name))
    with source.snapshot() as snapshot:
        table = snapshot.describe(table_name)
        chain = _chain(sink, root, table.name, report)
        if not chain:
            return report
        sink_rows = _replay(sink, fmt, table, chain, report)
        left_out = _changed_after(snapshot, table, fmt, report)
        _compare(_source_rows(snapshot, table, fmt, chunk_rows), sink_rows, left_out, report)
    return report


def _manifests(sink: Sink, root: str, table: TableName) -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """Every manifest of the table, by generation: (the window's prefix, the manifest)."""
    found: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    folder = table_folder(root, table)
    for path in sink.list(folder + "/"):
        if not path.endswith("/" + MANIFEST_NAME):
            continue
        prefix = path.rsplit("/", 1)[0]
        generation = generation_of(prefix[len(folder) + 1 :].split("/", 1)[0])
        if generation is not None:
            found[generation].append((prefix, json.loads(sink.read(path))))
    return found


def _chain(sink: Sink, root: str, table: TableName, report: VerifyReport) -> list[tuple[str, dict[str, Any]]]:
    """The newest generation's full window, then its deltas in version order; breaks in the chain are counted."""
    by_generation = _manifests(sink, root, table)
    for generation in sorted(by_generation, reverse=True):
        windows = by_generation[generation]
        full = [w for w in windows if w[1].get("mode") in FULL_MODES]
        if not full:
            continue
        report.generation = generation
        deltas = sorted((w for w in windows if w not in full), key=lambda w: (w[1]["fromVersion"], w[1]["toVersion"]))
        expected = full[0][1]["toVersion"]
        for _, manifest in deltas:
            if manifest["fromVersion"] != expected:
                report.chain_breaks += 1
                report.note(f"chain: window {manifest['fromVersion']}-{manifest['toVersion']} after {expected}")
            expected = max(expected, manifest["toVersion"])
        report.chain_breaks += len(full) - 1
        report.to_version = expected
        report.windows = 1 + len(deltas)
        return [full[0], *deltas]
    report.note("chain: no generation has a complete full window")
    return []


def _replay(
    sink: Sink, fmt: Format, table: Table, chain: list[tuple[str, dict[str, Any]]], report: VerifyReport
) -> dict[str, bytes]:
    """The table as the windows build it: key -> row digest."""
    rows: dict[str, bytes] = {}
    delivered: set[tuple[str, Any]] = set()
    target, absent = [c.name for c in table.columns], _null_as_read(fmt)
    for prefix, manifest in chain:
        layout = _Layout.of([c["name"] for c in manifest["columns"]], manifest["keyColumns"], target, absent)
        full = manifest.get("mode") in FULL_MODES
        for row in _window_rows(sink, fmt, prefix, manifest, report):
            key = layout.key(row)
            change = (key, None if full or layout.version is None else row[layout.version])
            if change in delivered:
                report.duplicate_deliveries += 1
                report.note(f"duplicate: {key} in {prefix}")
            delivered.add(change)
            if not full and layout.operation is not None and row[layout.operation] == "D":
                rows.pop(key, None)
            else:
                rows[key] = layout.digest(row)
    report.sink_rows = len(rows)
    return rows


def _null_as_read(fmt: Format) -> Any:
    """NULL as ``fmt`` writes it and reads it back (the value of a column a window did not have)."""
    batch = Batch(
        (Column("value", "string"), Column("other", "string")), [(None, "x")]
    )  # one field alone: a blank line
    return next(iter(file_rows(fmt, b"".join(fmt.encode([batch])))))[0]


def _window_rows(
    sink: Sink, fmt: Format, prefix: str, manifest: dict[str, Any], report: VerifyReport
) -> Iterator[tuple[Any, ...]]:
    """The rows of a window's files, each file checked against its manifest entry."""
    for entry in manifest.get("files") or ():
        path = f"{prefix}/{entry['name']}"
        try:
            data = sink.read(path)
        except EngineError as exc:
            report.files_bad += 1
            report.note(f"file: {path} cannot be read ({exc.reason})")
            continue
        rows = list(file_rows(fmt, data))
        checksum = "sha256:" + hashlib.sha256(data).hexdigest()
        if (len(data), checksum, len(rows)) != (entry["bytes"], entry["checksum"], entry["rows"]):
            report.files_bad += 1
            report.note(f"file: {path} does not match its manifest")
        yield from rows


def _changed_after(snapshot: Snapshot, table: Table, fmt: Format, report: VerifyReport) -> set[str]:
    """Keys changed after the last manifest's ``to``: the next window brings them, so they are left out."""
    after, current = report.to_version or 0, snapshot.current_version()
    if current < after:
        report.note(f"source: its version {current} is below the last window's {after} (restored?)")
        return set()
    if after < snapshot.min_valid_version(table):
        report.note(f"source: change information after version {after} was cleaned up; recent changes look stale")
        return set()
    layout = _Layout.of([c.name for c in table.columns], table.primary_key)
    changes = Changes(table, ChangeWindow(after, current), (SYS_CHANGE_OPERATION,))
    left_out = {layout.key(row) for row in _encoded_rows(snapshot.read(changes, text_values=True), fmt, 20_000)}
    report.keys_left_out = len(left_out)
    return left_out


def _source_rows(snapshot: Snapshot, table: Table, fmt: Format, chunk_rows: int) -> Iterator[tuple[str, bytes]]:
    """The source's rows in their written form: (key, row digest)."""
    layout = _Layout.of([c.name for c in table.columns], table.primary_key)
    batches = snapshot.read(FullTable(table, with_change_columns=True), text_values=fmt.wants_text_values)
    for row in _encoded_rows(batches, fmt, chunk_rows):
        yield layout.key(row), layout.digest(row)


def _encoded_rows(batches: Iterable[Batch], fmt: Format, chunk_rows: int) -> Iterator[tuple[Any, ...]]:
    """Rows written by ``fmt`` and read back, ``chunk_rows`` at a time (each chunk one small file in memory)."""
    chunk: list[Batch] = []
    for batch in batches:
        chunk.append(batch)
        if sum(len(b) for b in chunk) >= chunk_rows:
            yield from file_rows(fmt, b"".join(fmt.encode(chunk)))
            chunk = []
    if any(len(b) for b in chunk):
        yield from file_rows(fmt, b"".join(fmt.encode(chunk)))


def _compare(
    source_rows: Iterable[tuple[str, bytes]], sink_rows: dict[str, bytes], left_out: set[str], report: VerifyReport
) -> None:
    for key, digest in source_rows:
        report.source_rows += 1
        found = sink_rows.pop(key, None)
        if key in left_out:
            continue
        if found is None:
            report.rows_missing += 1
            report.note(f"missing: {key}")
        elif found != digest:
            report.rows_stale += 1
            report.note(f"stale: {key}")
    for key in sink_rows:
        if key not in left_out:
            report.rows_extra += 1
            report.note(f"extra: {key}")
