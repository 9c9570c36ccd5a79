"""Faults by real means: a killed copy and a stopped blob store leave nothing visible and no watermark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from syncjobs.engine.changetracking import CopyOptions, copy_table
from syncjobs.engine.errors import EngineError
from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions
from syncjobs.engine.sinks.azureblob import AzureBlobConfig, AzureBlobSink
from syncjobs.engine.sinks.folder import FolderConfig, FolderSink
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource, create_database
from syncjobs.engine.types import TableName

ROOT = Path(__file__).resolve().parents[2]

KILLED_COPY = """
import sys, time
from syncjobs.engine.changetracking import copy_table
from syncjobs.engine.formats.delimited import DelimitedTextFormat, DelimitedTextOptions
from syncjobs.engine.sinks.folder import FolderConfig, FolderSink
from syncjobs.engine.sources.sqlite import SqliteConfig, SqliteSource
from syncjobs.engine.types import TableName

def slow():
    print("copying", flush=True)
    time.sleep(0.05)
    return False

from syncjobs.engine.changetracking import CopyOptions
copy_table(SqliteSource(SqliteConfig(sys.argv[1])), TableName("big"), FolderSink(FolderConfig(sys.argv[2])),
           DelimitedTextFormat(DelimitedTextOptions()), "out", options=CopyOptions(batch_rows=100), should_stop=slow)
print("finished", flush=True)
"""


def make_big_table(path: Path, rows: int = 5_000) -> SqliteSource:
    create_database(path)
    source = SqliteSource(SqliteConfig(str(path)))
    source.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT)")
    source.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO big SELECT i, printf('row %d', i) FROM n",
        (rows,),
    )
    source.enable_change_tracking(TableName("big"))
    return source


def test_a_copy_killed_half_way_leaves_no_file(tmp_path):
    make_big_table(tmp_path / "src.sqlite3").close()
    sink_root = tmp_path / "sink"
    sink_root.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_COPY, str(tmp_path / "src.sqlite3"), str(sink_root)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    for _ in range(3):  # a few batches are through: the file is half written
        assert worker.stdout.readline().strip() == "copying"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    sink = FolderSink(FolderConfig(str(sink_root)))
    assert sink.list() == []
    leftovers = [p.name for p in sink_root.rglob("*") if p.is_file()]
    assert all(name.startswith(".") and name.endswith(".part") for name in leftovers)


def test_a_blob_store_that_stops_mid_copy_fails_the_copy_and_commits_nothing(tmp_path, azurite, blob_container):
    source = make_big_table(tmp_path / "src.sqlite3", rows=20_000)
    sink = AzureBlobSink(
        AzureBlobConfig.from_connection_string(
            azurite.connection_string, container=blob_container, block_size=64 * 1024, retries=0
        )
    )
    batches = []

    def stop_the_store_on_the_fifth_batch() -> bool:
        batches.append(1)
        if len(batches) == 5:
            azurite.stop()
        return False

    fmt = DelimitedTextFormat(DelimitedTextOptions())
    try:
        with pytest.raises(EngineError) as caught:
            copy_table(
                source,
                TableName("big"),
                sink,
                fmt,
                "out",
                options=CopyOptions(batch_rows=1_000),
                should_stop=stop_the_store_on_the_fifth_batch,
            )
    finally:
        azurite.start()
    assert caught.value.transient
    assert sink.list() == []
    retry = copy_table(source, TableName("big"), sink, fmt, "out")
    assert retry.rows_written == 20_000
    assert sink.list() == [retry.window.manifest, *(f.path for f in retry.files)]
