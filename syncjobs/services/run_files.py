"""The files a run wrote, read back for people: a preview of the first rows, and a streamed download.

Confinement: a file is named by its activity run and its position in that activity's output, never by
a path from the request. It is read through the activity's sink linked service (found through the
run's frozen definition: the activity's output dataset and that dataset's linked service, as stored
now, checked against the file roots as a run is), only when the sink says the listed path lies inside
it (``Sink.local_path``) and, when the dataset names a plain container/folder, inside that folder.

Who may read: Editors and Admins (``READ_DATA_ROLE``). Operators trigger and cancel runs but are not
given the data those runs moved; Viewers see the paths only.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncjobs.access import Role
from syncjobs.adf.confinement import check_confined, host_limits
from syncjobs.adf.pipelines import iter_activities
from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.sinks import Sink
from syncjobs.models import ActivityRun, LinkedService

READ_DATA_ROLE = Role.EDITOR
PREVIEW_ROWS = 50
PREVIEW_BYTES = 512 * 1024  # of text read for a CSV preview (compressed bytes are bounded the same way)
PREVIEW_PARQUET_BYTES = 16 * 1024 * 1024  # a bigger Parquet file is offered for download only
CHUNK_BYTES = 256 * 1024


class RunFileError(Exception):
    """The activity run lists no such file, or it cannot be resolved inside its sink (a 404)."""


@dataclass(frozen=True)
class RunFile:
    """One file an activity run lists, and where it is read from."""

    activity: ActivityRun
    index: int
    shown: str  # as the activity's output lists it
    dataset: dict[str, Any]
    linked_service: str

    @property
    def name(self) -> str:
        """The file's own name (for the download)."""
        return self.shown.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def kind(self) -> str:
        """``csv``, ``csv.gz``, ``parquet`` or ``other`` (what the preview can read)."""
        lower = self.name.lower()
        if lower.endswith(".parquet"):
            return "parquet"
        if lower.endswith(".gz"):
            return "csv.gz"
        return "csv" if lower.endswith((".csv", ".txt", ".tsv")) else "other"


@dataclass
class Preview:
    """The first rows of a file, and why there are no more (or none)."""

    header: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    note: str = ""


def listed_files(activity: ActivityRun) -> list[str]:
    """The files an activity run's output lists (a copy's ``files``, or each table's), in order, once each."""
    output = activity.output or {}
    found = [*(output.get("files") or [])]
    for table in output.get("tables") or []:
        found += (table or {}).get("files") or []
    return [f for f in dict.fromkeys(found) if isinstance(f, str)]


def run_file(activity: ActivityRun, index: int) -> RunFile:
    """The ``index``-th file ``activity`` lists, with its output dataset (``RunFileError`` when none)."""
    files = listed_files(activity)
    if not 0 <= index < len(files):
        raise RunFileError(f"activity {activity.activity_name} lists no file number {index}")
    dataset = _output_dataset(activity)
    ls_name = str(((dataset.get("properties") or {}).get("linkedServiceName") or {}).get("referenceName", ""))
    return RunFile(activity, index, files[index], dataset, ls_name)


def _output_dataset(activity: ActivityRun) -> dict[str, Any]:
    """The frozen definition of the activity's output dataset."""
    frozen = activity.pipeline_run.definition or {}
    activities = ((frozen.get("pipeline") or {}).get("properties") or {}).get("activities")
    own = activity.parent or activity  # a table's run: its activity's definition
    found = next((a for _, a in iter_activities(activities) if a.get("name") == own.activity_name), None)
    outputs = (found or {}).get("outputs") or []
    name = (outputs[0] or {}).get("referenceName") if outputs and isinstance(outputs[0], dict) else None
    datasets = frozen.get("datasets") or {}
    dataset = next((d for k, d in datasets.items() if isinstance(name, str) and k.lower() == name.lower()), None)
    if dataset is None:
        raise RunFileError(f"activity {activity.activity_name} names no output dataset in the run's definition")
    return dataset


def open_sink(item: RunFile) -> tuple[Sink, str]:
    """The sink holding ``item`` and its path there; ``RunFileError`` when it cannot be placed inside it."""
    linked = LinkedService.objects.filter(name__iexact=item.linked_service).first()
    if linked is None:
        raise RunFileError(f"the linked service {item.linked_service!r} no longer exists")
    definition = linked.revealed_definition()
    others = [ls.definition for ls in LinkedService.objects.exclude(pk=linked.pk)]
    try:
        check_confined(definition, host_limits(others))
        sink = bindings.sink_for(definition)
    except EngineError as exc:
        raise RunFileError(str(exc)) from None
    try:
        path = sink.local_path(item.shown)
        _check_folder(item, path)
    except (EngineError, RunFileError) as exc:
        sink.close()
        raise RunFileError(str(exc)) from None
    return sink, path


def _check_folder(item: RunFile, path: str) -> None:
    """When the dataset names a plain container/folder, the file must lie under it."""
    location = ((item.dataset.get("properties") or {}).get("typeProperties") or {}).get("location") or {}
    if any(not isinstance(location.get(k) or "", str) for k in ("container", "folderPath")):
        return  # an expression: the run evaluated it; the listed path and the sink's bounds still hold
    folder = bindings.folder_for(item.dataset)
    if folder and not (path.startswith(f"{folder}/") or item.shown.startswith(f"{folder}/")):
        raise RunFileError(f"{item.shown} is not inside the dataset's folder {folder}")


def stream(item: RunFile) -> Iterator[bytes]:
    """The file's bytes, chunk by chunk, read lazily; the sink is closed when the stream ends.

    Opened before returning, so a missing file raises ``RunFileError`` here, not halfway through a response.
    """
    sink, path = open_sink(item)
    chunks = sink.read_chunks(path, CHUNK_BYTES)
    try:
        first = next(chunks, b"")
    except EngineError as exc:
        sink.close()
        raise RunFileError(str(exc)) from None

    def rest() -> Iterator[bytes]:
        try:
            yield first
            yield from chunks
        finally:
            sink.close()

    return rest()


def preview(item: RunFile, rows: int = PREVIEW_ROWS) -> Preview:
    """The first ``rows`` rows of a CSV, CSV.gz or Parquet file, reading a bounded number of bytes."""
    if item.kind == "other":
        open_sink(item)[0].close()  # the file must still be one the sink holds
        return Preview(note="No preview for this kind of file; download it instead.")
    if item.kind == "parquet":
        return _parquet_preview(item, rows)
    return _csv_preview(item, rows)


def _csv_preview(item: RunFile, rows: int) -> Preview:
    options = _delimited_options(item)
    text, complete = _leading_text(stream(item), gzip=item.kind == "csv.gz")
    if not complete:
        text = text[: text.rfind("\n") + 1] if "\n" in text else text  # the cut row is left out
    delimiter = (getattr(options, "column_delimiter", ",") or ",")[:1]
    quote = getattr(options, "quote_char", '"') or None
    escape = getattr(options, "escape_char", "") or None
    escape = escape if escape != quote else None  # a doubled quote is csv's default
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote, escapechar=escape)
    try:
        found = [row for _, row in zip(range(rows + 2), reader, strict=False)]
    except csv.Error as exc:
        return Preview(note=f"Could not read the file as CSV: {exc}")
    header = found.pop(0) if found and getattr(options, "first_row_as_header", False) else []
    more = len(found) > rows or not complete
    return Preview(header, found[:rows], more, "" if found or header else "The file holds no rows.")


def _delimited_options(item: RunFile) -> Any:
    try:
        return getattr(bindings.format_for(item.dataset), "options", None)
    except EngineError:
        return None


def _leading_text(chunks: Iterator[bytes], *, gzip: bool) -> tuple[str, bool]:
    """Up to ``PREVIEW_BYTES`` of the file's text; True when that is the whole file."""
    inflate = zlib.decompressobj(wbits=31) if gzip else None
    data, complete = b"", True
    try:
        for chunk in chunks:
            data += inflate.decompress(chunk, PREVIEW_BYTES - len(data)) if inflate else chunk
            if len(data) >= PREVIEW_BYTES or (inflate and inflate.unconsumed_tail):
                complete = False
                break
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return data[:PREVIEW_BYTES].decode("utf-8-sig", errors="replace"), complete


def _parquet_preview(item: RunFile, rows: int) -> Preview:
    import pyarrow.parquet as pq

    data = bytearray()
    for chunk in stream(item):
        data += chunk
        if len(data) > PREVIEW_PARQUET_BYTES:
            return Preview(note="This Parquet file is too large to preview here; download it instead.")
    try:
        table = pq.ParquetFile(io.BytesIO(bytes(data))).iter_batches(batch_size=rows + 1)
        batch = next(table, None)
    except Exception as exc:  # pyarrow raises its own errors on a damaged file
        return Preview(note=f"Could not read the file as Parquet: {exc}")
    if batch is None:
        return Preview(note="The file holds no rows.")
    columns = [c.to_pylist() for c in batch.columns]
    found = [list(r) for r in zip(*columns, strict=True)]
    return Preview(list(batch.schema.names), found[:rows], len(found) > rows)
