"""Engine fixtures: every conformance test runs on each source (and the sink tests on each sink)."""

from __future__ import annotations

import pytest

from tests.engine.sources_under_test import (
    SQLSERVER_DSN_VARIABLE,
    PostgresUnderTest,
    SqliteUnderTest,
    SqlServerUnderTest,
    sqlserver_dsn,
)


@pytest.fixture(params=["sqlite", "postgres", "sqlserver"])
def under_test(request, tmp_path):
    """A real source of each kind, wrapped for hand-written set-up."""
    if request.param == "sqlite":
        wrapped = SqliteUnderTest(tmp_path)
    elif request.param == "postgres":
        wrapped = PostgresUnderTest(request.getfixturevalue("pg_database"))
    else:
        dsn = sqlserver_dsn()
        if not dsn:
            pytest.skip(f"SQL Server conformance runs when {SQLSERVER_DSN_VARIABLE} holds an ODBC connection string")
        wrapped = SqlServerUnderTest(dsn)
    yield wrapped
    wrapped.close()


@pytest.fixture
def folder_sink(tmp_path):
    """The embedded default sink: a local folder."""
    from syncjobs.engine.sinks.folder import FolderConfig, FolderSink

    root = tmp_path / "sink"
    root.mkdir()
    sink = FolderSink(FolderConfig(root=str(root)))
    yield sink
    sink.close()
