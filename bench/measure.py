"""One measurement, run in a fresh child process so its peak memory is its own.

``python bench/measure.py '<json spec>'`` prints one JSON line: seconds, rows, bytes, peak RSS (MB),
and for change-tracking copies the watermark reached.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import TABLE, pg_config, server  # noqa: E402
from syncjobs.engine.changetracking import CopyOptions, copy_table  # noqa: E402
from syncjobs.engine.formats import format_for_dataset  # noqa: E402
from syncjobs.engine.sinks.azureblob import AzureBlobConfig, AzureBlobSink  # noqa: E402
from syncjobs.engine.sources.postgres import PostgresSource  # noqa: E402
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource  # noqa: E402
from syncjobs.engine.types import TableName, Watermark  # noqa: E402
from syncjobs.engine.windows import PendingWindow, SyncState  # noqa: E402

FORMATS = {
    "csv": ("DelimitedText", {}),
    "csv.gz": ("DelimitedText", {"compressionCodec": "gzip", "compressionLevel": "Fastest"}),
    "parquet": ("Parquet", {}),
}


def peak_mb() -> float:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def database_export(spec: dict[str, Any]) -> dict[str, Any]:
    """The database's own CSV export to a file (psql \\copy, or the sqlite3 shell)."""
    target = spec["file"]
    started = time.perf_counter()
    if spec["source"] == "postgres":
        pg = server()
        command = ["psql", "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", spec["where"], "-q", "-c"]
        command.append(f"\\copy (SELECT * FROM {TABLE}) TO '{target}' WITH (FORMAT csv)")
        subprocess.run(command, check=True, env={**os.environ, "PGPASSWORD": pg.password})
    else:
        with open(target, "wb") as out:
            subprocess.run(["sqlite3", "-csv", spec["where"], f"SELECT * FROM {TABLE}"], stdout=out, check=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": Path(target).stat().st_size, "peak_mb": None}


def raw_upload(spec: dict[str, Any]) -> dict[str, Any]:
    """A parallel upload of the exported file (max_concurrency 4), as azure-storage-blob does it."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(spec["connection_string"])
    blob = service.get_blob_client("bench", f"raw/{Path(spec['file']).name}")
    started = time.perf_counter()
    with open(spec["file"], "rb") as data:
        blob.upload_blob(data, overwrite=True, max_concurrency=4)
    return {"seconds": time.perf_counter() - started, "bytes": Path(spec["file"]).stat().st_size, "peak_mb": peak_mb()}


class FileJournal:
    """Keeps the pending window in a JSON file, as the portal keeps it in its database (for resume runs).

    ``kill_after``: SIGKILL this process once that many parts are recorded (a copy killed half way).
    """

    def __init__(self, path: str, kill_after: int | None = None) -> None:
        self.path, self.kill_after = Path(path), kill_after

    def record(self, window: PendingWindow) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(window.to_json()))
        temporary.replace(self.path)
        if self.kill_after is not None and len(window.parts) >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def check_claim(self) -> None:
        """Nothing is fenced here."""


def engine_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """The engine's change-tracking copy (full with no watermark, else delta) to Azurite.

    ``journal``: keep the pending window in that file (another process may kill this one mid-copy);
    ``resume``: start from the window kept there. ``part_rows``: maxRowsPerFile.
    """
    name = spec.get("table", TABLE)
    if spec["source"] == "postgres":
        source, table = PostgresSource(pg_config(spec["where"])), TableName(name, "public")
    else:
        source, table = SqliteSource(SqliteConfig(database=spec["where"])), TableName(name)
    kind, options = FORMATS[spec["format"]]
    fmt = format_for_dataset(kind, options)
    sink = AzureBlobSink(AzureBlobConfig.from_connection_string(spec["connection_string"], create_container=True))
    state = SyncState(claim=2 if spec.get("resume") else 1)
    if spec.get("watermark"):  # a delta after the full copy: generation 1, the chain at its baseline
        version, identity = spec["watermark"]
        state = SyncState(Watermark(version, identity), generation=1, chain_version=version)
    if spec.get("resume"):
        state = SyncState(pending=PendingWindow.from_json(json.loads(Path(spec["journal"]).read_text())), claim=2)
    journal = FileJournal(spec["journal"], spec.get("kill_after")) if spec.get("journal") else None
    copy_options = CopyOptions(max_rows_per_file=spec["part_rows"]) if spec.get("part_rows") else None
    started = time.perf_counter()
    result = copy_table(
        source, table, sink, fmt, f"bench/{spec['label']}", state, journal=journal, options=copy_options
    )
    seconds = time.perf_counter() - started
    source.close()
    sink.close()
    reached = result.watermark
    return {
        "seconds": seconds,
        "rows": result.rows_written,
        "bytes": result.bytes_written,
        "peak_mb": peak_mb(),
        "mode": result.mode,
        "watermark": [reached.version, reached.database_identity] if reached else None,
        "parts_resumed": result.window.parts_resumed if result.window else 0,
    }


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    measure = {"export": database_export, "upload": raw_upload, "copy": engine_copy}[spec["kind"]]
    print(json.dumps(measure(spec)))
