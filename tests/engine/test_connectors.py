"""The connector table: one declaration per connector, read by everything that needs it, drivers loaded lazily."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syncjobs.engine import bindings, connectors
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.runner import run_pipeline
from syncjobs.engine.types import TableName
from tests.engine.run_helpers import ls, pg_linked_service
from tests.engine.run_hosts import MemoryHost, info
from tests.fixtures.postgres import pg_connect

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ("psycopg", "pyodbc", "azure.storage.blob")


def test_every_registered_connector_declares_its_types_form_and_role():
    seen: list[str] = []
    for connector in connectors.connectors():
        assert connector.linked_service_types and connector.form and isinstance(connector.is_source, bool)
        for declared in connector.linked_service_types:
            seen += [declared.name, *declared.legacy]
            assert declared.label and declared.dataset
            assert bool(declared.copy_source) == connector.is_source != bool(declared.write_settings)
        assert (connector.dialect is not None) == connector.is_source
    assert len(seen) == len(set(seen)), "a type name (or a legacy name) answers to two connectors"


def test_the_types_the_engine_accepted_and_validation_refused_are_gone_from_both():
    for kind in ("AzureSqlDB", "PostgreSql", "AzureStorage"):
        assert connectors.connector_for(kind) is None
        with pytest.raises(TerminalError) as caught:
            bindings.source_for(ls("X", kind, server="127.0.0.1", database="d", connectionString="x"))
        assert caught.value.reason == "unsupported_linked_service"
    assert connectors.linked_service_type("AzureBlobStorage").legacy == ("AzureStorage",)  # import renames it


def _flags(connector: type) -> dict[str, str | None]:
    """Each ``supports_*`` class attribute of ``connector`` and the docstring under it (None when it has none)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(connector))).body[0].body
    flags: dict[str, str | None] = {}
    for statement, following in zip(body, [*body[1:], None], strict=True):
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id.startswith("supports_"):
                doc = following.value if isinstance(following, ast.Expr) else None
                flags[target.id] = doc.value if isinstance(doc, ast.Constant) else None
    return flags


def test_every_capability_has_a_docstring_and_is_read_outside_tests():
    declared = {name: doc for c in connectors.connectors() for name, doc in _flags(c).items()}
    assert set(declared) >= {"supports_change_tracking", "supports_native_csv", "supports_text_values"}
    code = "\n".join(p.read_text() for p in (ROOT / "syncjobs").rglob("*.py"))
    for name, doc in declared.items():
        assert doc, f"{name} has no docstring"
        assert re.search(rf"\.{name}\b", code), f"{name} is declared but nothing reads it"


def test_no_module_outside_the_connectors_names_a_linked_service_or_dataset_type():
    names = {
        name
        for t in connectors.linked_service_types()
        for name in (t.name, t.dataset, t.copy_source, t.write_settings, *t.legacy, *t.legacy_datasets, *t.legacy_copy)
        if name
    }
    connector_files = {Path(inspect.getsourcefile(c)).resolve() for c in connectors.connectors()}
    # The tutorial writes its own objects' JSON (data, not a decision); migrations are history.
    allowed = {ROOT / "syncjobs" / "tutorial.py"}
    for path in (ROOT / "syncjobs").rglob("*.py"):
        if path.resolve() in connector_files | allowed or "migrations" in path.parts:
            continue
        spelled = {n for n in names if re.search(rf"[\"']{n}[\"']", path.read_text())}
        assert not spelled, f"{path.relative_to(ROOT)} spells {sorted(spelled)}: read the connector table instead"


def test_importing_the_engine_loads_no_driver_and_reading_the_table_loads_them():
    script = f"""
import sys
import syncjobs.engine.bindings, syncjobs.engine.pipeline.runner
before = [d for d in {DRIVERS!r} if d in sys.modules]
from syncjobs.engine import connectors
connectors.connector_for("Sqlite")
print(before, [d for d in {DRIVERS!r} if d in sys.modules])
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "['psycopg',", "'pyodbc',", "'azure.storage.blob']"]


@pytest.mark.parametrize(
    ("kind", "first_rows", "no_rows", "call"),
    [
        (
            "SqlServer",
            "SELECT TOP (5) * FROM [dbo].[my]]t]",
            "SELECT TOP 0 * FROM (SELECT 1) AS q",
            "EXEC [dbo].[Upd] @a = ?, @b = ?",
        ),
        (
            "PostgreSqlV2",
            'SELECT * FROM "dbo"."my]t" LIMIT 5',
            "SELECT * FROM (SELECT 1) AS q WHERE 1=0",
            'CALL "dbo"."Upd"("a" => %s, "b" => %s)',
        ),
        ("Sqlite", 'SELECT * FROM "dbo"."my]t" LIMIT 5', "SELECT * FROM (SELECT 1) AS q WHERE 1=0", None),
    ],
)
def test_each_database_spells_previews_query_checks_and_procedure_calls_its_own_way(kind, first_rows, no_rows, call):
    dialect = connectors.connector_for(kind).dialect
    assert dialect.first_rows_sql(TableName("my]t", "dbo"), 5) == first_rows
    assert dialect.no_rows_sql("SELECT 1") == no_rows
    if call is None:
        with pytest.raises(TerminalError, match="SQLite has no stored procedures: use a Script activity instead"):
            dialect.procedure_call_sql(TableName("Upd", "dbo"), ["a"])
    else:
        assert dialect.procedure_call_sql(TableName("Upd", "dbo"), ["a", "b"]) == call


def _procedure_pipeline(linked_service: str, procedure: str, **parameters: object) -> dict:
    activity = {
        "name": "Call",
        "type": "SqlServerStoredProcedure",
        "linkedServiceName": {"referenceName": linked_service, "type": "LinkedServiceReference"},
        "typeProperties": {
            "storedProcedureName": procedure,
            "storedProcedureParameters": {k: {"value": v, "type": "Int64"} for k, v in parameters.items()},
        },
    }
    return {"pipeline": {"name": "P", "properties": {"activities": [activity]}}, "datasets": {}}


def test_a_stored_procedure_runs_on_postgresql_with_call(pg_database):
    with pg_connect(pg_database) as conn:
        conn.execute("CREATE TABLE version_log (v bigint)")
        conn.execute("CREATE PROCEDURE keep_version(v bigint) LANGUAGE sql AS $$ INSERT INTO version_log VALUES (v) $$")
    host = MemoryHost([pg_linked_service(pg_database)])
    snapshot = {**_procedure_pipeline("Pg", "public.keep_version", v=42), "linkedServices": host.linked_services}
    outcome = run_pipeline(snapshot, info("P"), host)
    assert outcome.status == "Succeeded", outcome.message
    with pg_connect(pg_database) as conn:
        assert conn.execute("SELECT v FROM version_log").fetchall() == [(42,)]


def test_a_stored_procedure_on_sqlite_fails_and_says_to_use_a_script(tmp_path):
    from syncjobs.engine.sources.sqlite import create_database

    create_database(tmp_path / "s.db")
    host = MemoryHost([ls("Lite", "Sqlite", database=str(tmp_path / "s.db"))])
    snapshot = {**_procedure_pipeline("Lite", "keep_version", v=1), "linkedServices": host.linked_services}
    outcome = run_pipeline(snapshot, info("P"), host)
    assert outcome.status == "Failed"
    assert host.run("Call")["error"]["message"] == "SQLite has no stored procedures: use a Script activity instead"


def test_the_readme_lists_every_linked_service_type_with_its_connector_module():
    readme = (ROOT / "README.md").read_text()
    for connector in connectors.connectors():
        module = Path(inspect.getsourcefile(connector)).relative_to(ROOT / "syncjobs" / "engine").as_posix()
        for declared in connector.linked_service_types:
            assert f"| `{declared.name}` | `{module}` | `{declared.dataset}` |" in readme
