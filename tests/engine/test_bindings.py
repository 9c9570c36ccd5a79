"""ADF JSON to engine objects, against real databases and stores."""

from __future__ import annotations

import sqlite3

import pytest

from syncjobs.engine import bindings
from syncjobs.engine.errors import EngineError
from syncjobs.engine.sources import Query
from syncjobs.engine.types import TableName
from tests.engine.run_helpers import ls, pg_linked_service
from tests.fixtures.postgres import HOST, PASSWORD, PORT, USER


def test_sqlite_linked_service_reads_its_file(tmp_path):
    path = tmp_path / "src.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO t VALUES (1, 'a')")
    source = bindings.source_for(ls("Src", "Sqlite", database=str(path)))
    source.test_connection()
    with source.snapshot() as snapshot:
        rows = [r for b in snapshot.read(Query("SELECT name FROM t")) for r in b.rows]
    assert rows == [("a",)]


def test_postgres_linked_service_with_secure_string_password(pg_database):
    source = bindings.source_for(pg_linked_service(pg_database))
    source.test_connection()
    assert source.config.ssl_mode == "disable"


def _pg_definition(database: str, password: str) -> dict:
    secret = {"type": "SecureString", "value": password}
    return ls("Pg", "PostgreSqlV2", server=HOST, port=PORT, database=database, username=USER, password=secret)


def test_postgres_missing_database_says_so(pg_server):
    with pytest.raises(EngineError) as caught:
        bindings.source_for(_pg_definition("ctp_no_such_db", PASSWORD)).test_connection()
    assert "ctp_no_such_db" in str(caught.value)


def test_postgres_wrong_password_is_refused(pg_database):
    with pytest.raises(EngineError) as caught:
        bindings.source_for(_pg_definition(pg_database.database, "not-the-password")).test_connection()
    assert caught.value.reason == "login_failed"


def test_folder_sink_writes_under_its_host(tmp_path):
    sink = bindings.sink_for(ls("Out", "FileServer", host=str(tmp_path)))
    writer = sink.open("a/b.csv")
    writer.write(b"x")
    writer.commit()
    assert (tmp_path / "a" / "b.csv").read_bytes() == b"x"


def test_blob_sink_from_connection_string_creates_the_container(azurite):
    definition = ls("Blob", "AzureBlobStorage", connectionString=azurite.connection_string)
    sink = bindings.sink_for(definition)
    writer = sink.open("newcontainer-bindings/folder/f.csv")
    writer.write(b"1,2\r\n")
    writer.commit()
    assert sink.read("newcontainer-bindings/folder/f.csv") == b"1,2\r\n"


def test_dataset_table_names():
    modern = {"name": "D", "properties": {"type": "SqlServerTable", "typeProperties": {"schema": "dbo", "table": "t"}}}
    legacy = {"name": "D", "properties": {"type": "AzureSqlTable", "typeProperties": {"tableName": "[dbo].[my t]"}}}
    assert bindings.table_name_for(modern) == TableName("t", "dbo")
    assert bindings.table_name_for(legacy) == TableName("my t", "dbo")


def test_file_paths_join_container_folder_and_name():
    dataset = {
        "name": "Sink",
        "properties": {
            "type": "DelimitedText",
            "typeProperties": {
                "location": {"type": "AzureBlobStorageLocation", "container": "adftutorial", "folderPath": "/out/"}
            },
        },
    }
    assert bindings.file_path_for(dataset, "Incremental-1.csv") == "adftutorial/out/Incremental-1.csv"
    assert bindings.folder_for(dataset) == "adftutorial/out"
    with pytest.raises(EngineError, match="no file name"):
        bindings.file_path_for(dataset)


def test_unknown_types_are_refused():
    with pytest.raises(EngineError, match="not a source"):
        bindings.source_for(ls("X", "AzureBlobStorage"))
    with pytest.raises(EngineError, match="not a sink"):
        bindings.sink_for(ls("X", "Sqlite", database="x.db"))


def test_a_linked_service_is_a_source_or_a_sink_as_its_connector_declares():
    assert bindings.is_source(ls("S", "PostgreSqlV2")) and not bindings.is_sink(ls("S", "PostgreSqlV2"))
    assert bindings.is_sink(ls("F", "FileServer")) and not bindings.is_source(ls("F", "FileServer"))
    assert not bindings.is_source(ls("K", "AzureKeyVault")) and not bindings.is_sink(ls("K", "AzureKeyVault"))
