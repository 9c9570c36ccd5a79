"""The SQL Server source: its T-SQL, connection strings, value texts and connection errors, for real.

No SQL Server runs here, so the statements are checked as text, the converters on real packed ODBC
structs, and the errors through the installed FreeTDS driver against a closed loopback port. The
``sqlserver`` class runs against a real server when CTPORTAL_TEST_SQLSERVER_DSN is set.
"""

from __future__ import annotations

import struct
import time
import uuid
from datetime import date
from decimal import Decimal

import pyodbc
import pytest

from syncjobs.engine.errors import EngineError, TerminalError, TransientError
from syncjobs.engine.secret import Secret
from syncjobs.engine.sources import Changes, FullTable, Query, Source
from syncjobs.engine.sources import sqlserver_sql as tsql
from syncjobs.engine.sources.sqlserver import SqlServerConfig, SqlServerSource, engine_error, odbc_connection_string
from syncjobs.engine.sqlnames import quote_tsql
from syncjobs.engine.types import (
    SYS_CHANGE_COLUMNS,
    SYS_CHANGE_OPERATION,
    SYS_CHANGE_VERSION,
    ChangeWindow,
    Column,
    Table,
    TableName,
)
from tests.engine.sources_under_test import SQLSERVER_DSN_VARIABLE, sqlserver_dsn

HOSTILE = "x]; DROP TABLE victim; --'"
PEOPLE = Table(
    name=TableName("data_source_table", "dbo"),
    columns=(Column("PersonID", "int"), Column("Name", "string"), Column("Age", "int")),
    primary_key=("PersonID",),
    change_tracking=True,
    track_columns=True,
)


def test_the_enabling_statements_are_the_tutorials():
    assert tsql.enable_statements("adftutorial", TableName("data_source_table"), True, 2) == [
        "ALTER DATABASE [adftutorial] SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 2 DAYS, AUTO_CLEANUP = ON)",
        "ALTER DATABASE [adftutorial] SET ALLOW_SNAPSHOT_ISOLATION ON",
        "ALTER TABLE [dbo].[data_source_table] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = ON)",
    ]
    assert tsql.enable_table_sql(TableName("t", "s"), False).endswith("WITH (TRACK_COLUMNS_UPDATED = OFF)")


def test_hostile_names_stay_inside_their_brackets_and_quotes():
    name = TableName(HOSTILE, "sch ema;ñ")
    assert tsql.qualified(name) == "[sch ema;ñ].[x]]; DROP TABLE victim; --']"
    assert (
        tsql.disable_table_sql(name) == "ALTER TABLE [sch ema;ñ].[x]]; DROP TABLE victim; --'] DISABLE CHANGE_TRACKING"
    )
    assert tsql.min_valid_version_sql(name) == (
        "SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(N'[sch ema;ñ].[x]]; DROP TABLE victim; --'']'))"
    )
    assert tsql.pin_sql(name) == (
        "SELECT COUNT_BIG(*) FROM (SELECT TOP (1) 1 AS pinned FROM [sch ema;ñ].[x]]; DROP TABLE victim; --']) AS pin"
    )
    assert tsql.enable_database_sql("db]; DROP DATABASE x; --", 7) == (
        "ALTER DATABASE [db]]; DROP DATABASE x; --] SET CHANGE_TRACKING = ON "
        "(CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON)"
    )


def test_a_table_without_a_schema_is_in_dbo():
    assert tsql.qualified(TableName('odd "table"; [x] ñandú')) == '[dbo].[odd "table"; [x]] ñandú]'


def test_the_delta_query_is_the_seeds_outer_join_bounded_on_both_sides_in_key_order():
    sql, columns = tsql.changes_select(PEOPLE, (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION))
    assert sql == (
        "SELECT CT.[PersonID], T.[Name], T.[Age], CT.SYS_CHANGE_VERSION AS [SYS_CHANGE_VERSION], "
        "CT.SYS_CHANGE_OPERATION AS [SYS_CHANGE_OPERATION] "
        "FROM CHANGETABLE(CHANGES [dbo].[data_source_table], ?) AS CT "
        "LEFT OUTER JOIN [dbo].[data_source_table] AS T ON T.[PersonID] = CT.[PersonID] "
        "WHERE CT.SYS_CHANGE_VERSION <= ? ORDER BY CT.[PersonID]"
    )
    assert [(c.name, c.kind) for c in columns] == [
        ("PersonID", "int"),
        ("Name", "string"),
        ("Age", "int"),
        ("SYS_CHANGE_VERSION", "int"),
        ("SYS_CHANGE_OPERATION", "string"),
    ]


def test_composite_keys_join_and_order_on_every_key_column():
    table = Table(TableName("t", "s"), (Column("a", "int"), Column("b]", "int"), Column("v", "string")), ("b]", "a"))
    sql, _ = tsql.changes_select(table, ())
    assert sql == (
        "SELECT CT.[a], CT.[b]]], T.[v] FROM CHANGETABLE(CHANGES [s].[t], ?) AS CT "
        "LEFT OUTER JOIN [s].[t] AS T ON T.[b]]] = CT.[b]]] AND T.[a] = CT.[a] "
        "WHERE CT.SYS_CHANGE_VERSION <= ? ORDER BY CT.[b]]], CT.[a]"
    )


def test_changed_columns_test_each_non_key_column_by_its_column_id():
    table = Table(TableName("p'q"), (Column("id", "int"), Column("na'me", "string"), Column("Ñ]", "int")), ("id",))
    expression = tsql.changed_columns_sql(Table(**{**table.__dict__, "track_columns": True}))
    mask = "COLUMNPROPERTY(OBJECT_ID(N'[dbo].[p''q]'), N'{}', 'ColumnId'), CT.SYS_CHANGE_COLUMNS) = 1"
    assert expression == (
        "CASE WHEN CT.SYS_CHANGE_OPERATION <> N'U' THEN NULL "
        "WHEN CT.SYS_CHANGE_COLUMNS IS NULL THEN N'na''me,Ñ]' "
        "ELSE STUFF(CAST("
        f"CASE WHEN CHANGE_TRACKING_IS_COLUMN_IN_MASK({mask.format('na' + chr(39) * 2 + 'me')} "
        "THEN N',na''me' ELSE N'' END + "
        f"CASE WHEN CHANGE_TRACKING_IS_COLUMN_IN_MASK({mask.format('Ñ]')} THEN N',Ñ]' ELSE N'' END"
        " AS nvarchar(max)), 1, 1, N'') END"
    )
    assert tsql.changed_columns_sql(table) == "CAST(NULL AS nvarchar(max))"  # column tracking off
    sql, columns = tsql.changes_select(PEOPLE, (SYS_CHANGE_COLUMNS,))
    assert f"ELSE N'' END AS nvarchar(max)), 1, 1, N'') END AS [{SYS_CHANGE_COLUMNS}] FROM" in sql
    assert columns[-1] == Column(SYS_CHANGE_COLUMNS, "string")


def test_a_full_copy_reads_the_table_with_null_change_columns():
    sql, columns = tsql.full_select(PEOPLE, True)
    assert sql == (
        "SELECT T.[PersonID], T.[Name], T.[Age], CAST(NULL AS bigint) AS [SYS_CHANGE_VERSION], "
        "CAST(NULL AS nchar(1)) AS [SYS_CHANGE_OPERATION] FROM [dbo].[data_source_table] AS T"
    )
    assert [c.name for c in columns] == ["PersonID", "Name", "Age", SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION]
    assert (
        tsql.full_select(PEOPLE, False)[0]
        == "SELECT T.[PersonID], T.[Name], T.[Age] FROM [dbo].[data_source_table] AS T"
    )


@pytest.mark.parametrize(
    ("row", "kind", "declared"),
    [
        (("a", 0, 8, 19, 4, "money"), "decimal", "money"),
        (("a", 1, 9, 18, 4, "decimal"), "decimal", "decimal(18,4)"),
        (("a", 1, 8, 53, 0, "float"), "float", "float"),
        (("a", 1, 1, 1, 0, "bit"), "bool", "bit"),
        (("a", 1, 3, 10, 0, "date"), "date", "date"),
        (("a", 1, 5, 16, 7, "time"), "time", "time(7)"),
        (("a", 1, 8, 23, 3, "datetime"), "datetime", "datetime"),
        (("a", 1, 8, 27, 7, "datetime2"), "datetime", "datetime2(7)"),
        (("a", 1, 10, 34, 7, "datetimeoffset"), "datetimetz", "datetimeoffset(7)"),
        (("a", 1, 16, 0, 0, "uniqueidentifier"), "uuid", "uniqueidentifier"),
        (("a", 1, 255, 0, 0, "varchar"), "string", "varchar(255)"),
        (("a", 1, -1, 0, 0, "nvarchar"), "string", "nvarchar(max)"),
        (("a", 1, 20, 0, 0, "nchar"), "string", "nchar(10)"),
        (("a", 1, 16, 0, 0, "text"), "string", "text"),
        (("a", 1, -1, 0, 0, "xml"), "string", "xml"),
        (("a", 1, 16, 0, 0, "binary"), "binary", "binary(16)"),
        (("a", 1, -1, 0, 0, "varbinary"), "binary", "varbinary(max)"),
        (("a", 1, 8, 19, 0, "bigint"), "int", "bigint"),
    ],
)
def test_catalogue_types_map_to_kinds_and_declared_types(row, kind, declared):
    column = tsql.column_of(*row)
    assert (column.kind, column.source_type) == (kind, declared)
    assert column.nullable is bool(row[1])


def test_exact_numerics_keep_precision_and_scale():
    assert tsql.column_of("m", 0, 8, 19, 4, "money") == Column("m", "decimal", "money", False, 19, 4)
    assert tsql.column_of("d", 1, 8, 27, 7, "datetime2") == Column("d", "datetime", "datetime2(7)", True, None, 7)


def test_datetime2_keeps_all_seven_fractional_digits():
    raw = struct.pack("<6hI", 2024, 10, 3, 10, 15, 3, 123_456_700)
    assert tsql.timestamp_text(raw) == "2024-10-03 10:15:03.1234567"
    assert tsql.timestamp_text(struct.pack("<6hI", 1, 1, 1, 0, 0, 0, 0)) == "0001-01-01 00:00:00.0000000"


def test_datetimeoffset_keeps_its_digits_and_its_offset():
    raw = struct.pack("<6hI2h", 2024, 10, 3, 10, 15, 3, 123_456_700, 2, 0)
    assert tsql.offset_timestamp_text(raw) == "2024-10-03 10:15:03.1234567 +02:00"
    west = struct.pack("<6hI2h", 2024, 10, 3, 10, 15, 3, 0, -3, -30)
    assert tsql.offset_timestamp_text(west) == "2024-10-03 10:15:03.0000000 -03:30"
    assert tsql.offset_timestamp_text(struct.pack("<6hI2h", 2024, 1, 1, 0, 0, 0, 0, 0, -45)).endswith(" -00:45")


def test_time_keeps_seven_digits_padded_or_packed():
    assert tsql.time_text(struct.pack("<3H2xI", 10, 15, 3, 123_456_700)) == "10:15:03.1234567"
    assert tsql.time_text(struct.pack("<3HI", 23, 59, 59, 999_999_900)) == "23:59:59.9999999"


def test_uniqueidentifier_is_sql_servers_upper_case_text():
    value = uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff")
    assert tsql.guid_text(value.bytes_le) == "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert set(tsql.OUTPUT_CONVERTERS) == {93, -155, -154, -11}


def test_query_columns_recognise_the_converted_types_by_their_text():
    # pyodbc describes every column that has an output converter as str.
    description = [
        ("at", str, None, 34, 34, 7, True),
        ("plain", str, None, 27, 27, 7, True),
        ("clock", str, None, 16, 16, 7, True),
        ("id", str, None, 36, 36, 0, True),
        ("note", str, None, 10, 10, 0, True),
        ("price", Decimal, None, 19, 19, 4, False),
        ("", int, None, 10, 10, 0, True),
        ("day", date, None, 10, 10, 0, True),
    ]
    rows = [
        (None, "2024-10-03 10:15:03.0000000", "10:15:03.1234567", None, "2024-10-03", 1, 2, None),
        ("2024-10-03 10:15:03.0000000 +02:00", None, None, "6F9619FF-8B86-D011-B42D-00C04FC964FF", "x", 1, 2, None),
    ]
    columns = tsql.query_columns(description, rows)
    assert [c.kind for c in columns] == ["datetimetz", "datetime", "time", "uuid", "string", "decimal", "int", "date"]
    assert (columns[5].precision, columns[5].scale, columns[5].nullable) == (19, 4, False)
    assert tsql.query_columns([("empty", str, None, 1, 1, 0, True)], [(None,)])[0].kind == "string"


ADF_STRING = (
    "Data Source=tcp:myserver.database.windows.net,1433;Initial Catalog=adftutorial;User ID=ctuser;"
    "Password='p;a''ss}';Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;Persist Security Info=False"
)


def test_an_adf_connection_string_becomes_an_odbc_one_for_the_microsoft_driver():
    text, timeout = tsql.ado_to_odbc(ADF_STRING, "ODBC Driver 18 for SQL Server")
    assert text == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=tcp:myserver.database.windows.net,1433;DATABASE=adftutorial;"
        "UID=ctuser;PWD={p;a'ss}}};Encrypt=yes;TrustServerCertificate=no;"
    )
    assert timeout == 30


def test_an_adf_connection_string_becomes_an_odbc_one_for_freetds():
    text, timeout = tsql.ado_to_odbc(ADF_STRING.replace("Encrypt=True", "Encrypt=False"), "FreeTDS", 15)
    assert text == (
        "DRIVER={FreeTDS};SERVER=myserver.database.windows.net;PORT=1433;DATABASE=adftutorial;UID=ctuser;"
        "PWD={p;a'ss}}};TDS_Version=7.4;ClientCharset=UTF-8;Encryption=request;"
    )
    assert timeout == 30


def test_an_odbc_connection_string_passes_through_as_written():
    raw = "Driver={ODBC Driver 18 for SQL Server};Server=tcp:h,1433;PWD={a}}b;c};Encrypt=yes"
    assert tsql.ado_to_odbc(raw, "FreeTDS", 9) == (raw, 9)
    assert tsql.parse_connection_string(raw)[2] == ("PWD", "a}b;c")
    assert tsql.connection_fields(ADF_STRING)["PWD"] == "p;a'ss}"


def test_fields_build_an_odbc_string_with_the_password_braced():
    config = SqlServerConfig(server="db.local", port=14330, database="d b", user="u", password=Secret("x;y"))
    text, timeout = odbc_connection_string(config, "ODBC Driver 18 for SQL Server")
    assert text.reveal() == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=tcp:db.local,14330;DATABASE=d b;UID=u;PWD={x;y};"
        "Encrypt=yes;TrustServerCertificate=no;"
    )
    assert timeout == 15
    assert "x;y" not in repr(text)


def test_repr_of_a_config_never_shows_the_password():
    fields = SqlServerConfig(server="h", database="d", user="u", password=Secret("hunter2"))
    string = SqlServerConfig(connection_string=Secret(ADF_STRING))
    assert "hunter2" not in repr(fields) and "Secret('***')" in repr(fields)
    assert "p;a" not in repr(string) and "ctuser" not in repr(string)


MS = "[Microsoft][ODBC Driver 18 for SQL Server]"
ERRORS = [
    ("28000", f"{MS}[SQL Server]Login failed for user 'u'. (18456)", "login_failed", False),
    ("42000", f'{MS}[SQL Server]Cannot open database "d" requested by the login. (4060)', "database_missing", False),
    ("40001", f"{MS}[SQL Server]Transaction (Process ID 5) was deadlocked (1205)", "deadlock", True),
    ("HY000", f"{MS}[SQL Server]Snapshot isolation transaction aborted (3960)", "snapshot_conflict", True),
    ("HYT00", f"{MS}Login timeout expired (0) (SQLDriverConnect)", "timeout", True),
    ("08001", f"{MS}SSL Provider: certificate verify failed (-1)", "tls", False),
    ("IM002", "[unixODBC][Driver Manager]Data source name not found (0)", "driver_missing", False),
    ("42S02", f"{MS}[SQL Server]Invalid object name 'dbo.nope'. (208)", "table_not_found", False),
    ("42S22", f"{MS}[SQL Server]Invalid column name 'tssl'. (207)", "invalid_query", False),
    ("08S01", f"{MS}TCP Provider: Error code 0x68 (104)", "connection_lost", True),
]


@pytest.mark.parametrize(("state", "text", "reason", "transient"), ERRORS)
def test_driver_errors_map_to_reasons_by_sqlstate_and_native_number(state, text, reason, transient):
    config = SqlServerConfig(server="h", database="d", user="u", password=Secret("hunter2"))
    error = engine_error(pyodbc.Error(state, f"[{state}] {text} hunter2"), config)
    assert (error.reason, error.transient) == (reason, transient)
    assert "hunter2" not in str(error) and "[Microsoft]" not in error.message


def test_a_closed_port_is_refused_quickly_and_may_be_retried():
    password = "s3cret;pw"
    config = SqlServerConfig(
        server="127.0.0.1",
        port=1,
        database="db",
        user="sa",
        password=Secret(password),
        driver="FreeTDS",
        login_timeout=2,
    )
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        SqlServerSource(config).test_connection()
    assert time.monotonic() - started < 5
    assert caught.value.reason in ("refused", "timeout")
    assert caught.value.message.startswith("cannot connect to SQL Server 127.0.0.1,1/db: ")
    assert password not in str(caught.value) and password not in repr(caught.value.args)


def test_an_adf_connection_string_reports_its_server_and_never_its_password():
    text = "Data Source=tcp:127.0.0.1,1;Initial Catalog=adftutorial;User ID=sa;Password=Pa55word!;Connection Timeout=2"
    with pytest.raises(EngineError) as caught:
        SqlServerSource(SqlServerConfig(connection_string=Secret(text), driver="FreeTDS")).test_connection()
    assert caught.value.reason in ("refused", "timeout")
    assert "tcp:127.0.0.1,1/adftutorial" in caught.value.message and "Pa55word!" not in str(caught.value)


def test_a_host_that_does_not_resolve_says_so():
    config = SqlServerConfig(
        server="no-such-host.invalid", database="db", user="sa", password=Secret("pw"), driver="FreeTDS"
    )
    with pytest.raises(TerminalError) as caught:
        SqlServerSource(config).test_connection()
    assert caught.value.reason == "name_resolution"
    assert "no-such-host.invalid" in caught.value.message


def test_a_driver_that_is_not_installed_is_driver_missing():
    with pytest.raises(TerminalError) as caught:
        SqlServerSource(SqlServerConfig(server="h", driver="ODBC Driver 99 for SQL Server")).test_connection()
    assert caught.value.reason == "driver_missing"
    assert "ODBC Driver 99 for SQL Server" in caught.value.message and "FreeTDS" in caught.value.message
    raw = Secret("DRIVER={No Such Driver};SERVER=h;UID=u;PWD=hunter2")
    with pytest.raises(TerminalError) as caught:
        SqlServerSource(SqlServerConfig(connection_string=raw)).test_connection()
    assert caught.value.reason == "driver_missing" and "hunter2" not in str(caught.value)


def test_the_source_declares_what_it_can_do():
    source = SqlServerSource(SqlServerConfig(server="h", database="adftutorial"))
    assert isinstance(source, Source)
    assert (source.supports_change_tracking, source.supports_native_csv, source.supports_text_values) == (
        True,
        False,
        False,
    )
    assert source.cleanup_change_tracking() == 0
    assert source.change_tracking_statements(TableName("t", "s"), track_columns=False, retention_days=5) == [
        "ALTER DATABASE [adftutorial] SET CHANGE_TRACKING = ON (CHANGE_RETENTION = 5 DAYS, AUTO_CLEANUP = ON)",
        "ALTER DATABASE [adftutorial] SET ALLOW_SNAPSHOT_ISOLATION ON",
        "ALTER TABLE [s].[t] ENABLE CHANGE_TRACKING WITH (TRACK_COLUMNS_UPDATED = OFF)",
    ]


@pytest.mark.sqlserver
class TestAgainstARealServer:
    """Runs on the server named by CTPORTAL_TEST_SQLSERVER_DSN, in a schema of its own."""

    @pytest.fixture
    def server(self):
        dsn = sqlserver_dsn()
        if not dsn:
            pytest.skip(f"SQL Server tests run when {SQLSERVER_DSN_VARIABLE} holds an ODBC connection string")
        source = SqlServerSource(SqlServerConfig(connection_string=Secret(dsn)))
        schema = f"ctp_{uuid.uuid4().hex[:8]}"
        source.execute(f"CREATE SCHEMA {quote_tsql(schema)}")
        yield source, schema
        for row in source.execute("SELECT name FROM sys.tables WHERE schema_id = SCHEMA_ID(?)", (schema,)):
            source.execute(f"DROP TABLE {quote_tsql(schema)}.{quote_tsql(row['name'])}")
        source.execute(f"DROP SCHEMA {quote_tsql(schema)}")

    def people(self, source: SqlServerSource, schema: str) -> TableName:
        t = f"{quote_tsql(schema)}.[data_source_table]"
        source.execute(f"CREATE TABLE {t} (PersonID int NOT NULL, Name varchar(255), Age int, PRIMARY KEY (PersonID))")
        source.execute(f"INSERT INTO {t} VALUES (1, 'aaaa', 21), (2, 'bbbb', 24), (3, 'cccc', 20)")
        name = TableName("data_source_table", schema)
        source.enable_change_tracking(name)
        return name

    def changes(self, source: SqlServerSource, name: TableName, after: int, columns: tuple[str, ...]) -> list[tuple]:
        with source.snapshot() as snap:
            table = snap.describe(name)
            window = ChangeWindow(after, snap.current_version())
            return [row for batch in snap.read(Changes(table, window, columns)) for row in batch.rows]

    def test_the_tutorials_insert_and_update_are_an_i_and_a_u_row(self, server):
        source, schema = server
        name = self.people(source, schema)
        with source.snapshot() as snap:
            table = snap.describe(name)
            base = snap.current_version()
            assert snap.is_snapshot_isolation and table.change_tracking and table.primary_key == ("PersonID",)
            assert snap.min_valid_version(table) <= base
        t = f"{quote_tsql(schema)}.[data_source_table]"
        source.execute(f"INSERT INTO {t} (PersonID, Name, Age) VALUES (6, 'new', '50')")
        source.execute(f"UPDATE {t} SET [Age] = '10', [name] = 'update' WHERE [PersonID] = 1")
        rows = self.changes(source, name, base, (SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION))
        assert rows == [(1, "update", 10, base + 2, "U"), (6, "new", 50, base + 1, "I")]

    def test_deleted_rows_keep_their_keys_and_updates_name_their_columns(self, server):
        source, schema = server
        name = self.people(source, schema)
        with source.snapshot() as snap:
            base = snap.current_version()
        t = f"{quote_tsql(schema)}.[data_source_table]"
        source.execute(f"DELETE FROM {t} WHERE PersonID = 3")
        source.execute(f"UPDATE {t} SET Age = 99 WHERE PersonID = 2")
        rows = self.changes(source, name, base, (SYS_CHANGE_OPERATION, SYS_CHANGE_COLUMNS))
        assert rows == [(2, "bbbb", 99, "U", "Age"), (3, None, None, "D", None)]

    def test_datetime2_datetimeoffset_and_uniqueidentifier_come_as_sql_servers_text(self, server):
        source, schema = server
        t = f"{quote_tsql(schema)}.[typed]"
        source.execute(
            f"CREATE TABLE {t} (id int PRIMARY KEY, d2 datetime2(7), dto datetimeoffset(7), g uniqueidentifier, "
            "m money, b bit, x xml, n nvarchar(max), v varbinary(max))"
        )
        source.execute(
            f"INSERT INTO {t} VALUES (1, '2024-10-03 10:15:03.1234567', '2024-10-03 10:15:03.1234567 +02:00', "
            "'6f9619ff-8b86-d011-b42d-00c04fc964ff', 12.3456, 1, N'<a/>', N'ñandú', 0x00FF)"
        )
        with source.snapshot() as snap:
            table = snap.describe(TableName("typed", schema))
            rows = [r for batch in snap.read(FullTable(table)) for r in batch.rows]
            queried = [r for batch in snap.read(Query(f"SELECT dto FROM {t}")) for r in batch.rows]
        assert [c.kind for c in table.columns] == [
            "int", "datetime", "datetimetz", "uuid", "decimal", "bool", "string", "string", "binary",
        ]  # fmt: skip
        assert rows[0][1:4] == (
            "2024-10-03 10:15:03.1234567",
            "2024-10-03 10:15:03.1234567 +02:00",
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        )
        assert rows[0][4:] == (Decimal("12.3456"), True, "<a/>", "ñandú", b"\x00\xff")
        assert queried == [("2024-10-03 10:15:03.1234567 +02:00",)]

    def test_an_untracked_table_says_how_to_enable_tracking(self, server):
        source, schema = server
        source.execute(f"CREATE TABLE {quote_tsql(schema)}.[untracked] (id int PRIMARY KEY)")
        with source.snapshot() as snap, pytest.raises(TerminalError) as caught:
            snap.min_valid_version(snap.describe(TableName("untracked", schema)))
        assert caught.value.reason == "change_tracking_disabled"
        assert "ENABLE CHANGE_TRACKING" in caught.value.message
