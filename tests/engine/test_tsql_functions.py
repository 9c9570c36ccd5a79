"""The T-SQL change-tracking functions are rewritten for emulating sources, and nothing else is."""

import pytest

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.sources.tsql_functions import rewrite
from syncjobs.engine.types import TableName


class Dialect:
    def current_version_sql(self) -> str:
        return "(CV)"

    def min_valid_version_sql(self, table: TableName) -> str:
        return f"(MV {table.schema}|{table.name})"

    def changetable_sql(self, table: TableName, after_sql: str) -> str:
        return f"(CT {table.schema}|{table.name} AFTER {after_sql})"


def test_the_tutorials_lookup_query_is_rewritten():
    sql = "SELECT CHANGE_TRACKING_CURRENT_VERSION() as CurrentChangeTrackingVersion"
    assert rewrite(sql, Dialect()) == "SELECT (CV) as CurrentChangeTrackingVersion"


def test_the_tutorials_copy_query_is_rewritten():
    sql = (
        "SELECT data_source_table.PersonID, CT.SYS_CHANGE_VERSION, SYS_CHANGE_OPERATION from data_source_table "
        "RIGHT OUTER JOIN CHANGETABLE(CHANGES data_source_table, 0) AS CT ON data_source_table.PersonID = CT.PersonID "
        "where CT.SYS_CHANGE_VERSION <= 2"
    )
    out = rewrite(sql, Dialect())
    assert "RIGHT OUTER JOIN (CT None|data_source_table AFTER (0)) AS CT ON" in out
    assert out.endswith("where CT.SYS_CHANGE_VERSION <= 2")


def test_min_valid_version_takes_the_name_from_object_id():
    sql = "select change_tracking_min_valid_version( OBJECT_ID(N'dbo.My ''odd'' table') )"
    assert rewrite(sql, Dialect()) == "select (MV dbo|My 'odd' table)"


def test_quoted_and_bracketed_table_names_are_understood():
    sql = 'SELECT * FROM CHANGETABLE(CHANGES [sales].[order lines], 5) AS CT, CHANGETABLE(CHANGES "a""b", 1) c'
    out = rewrite(sql, Dialect())
    assert "(CT sales|order lines AFTER (5)) AS CT" in out
    assert '(CT None|a"b AFTER (1)) c' in out


def test_nested_expressions_in_the_version_argument_are_rewritten_too():
    sql = "SELECT * FROM CHANGETABLE(CHANGES t, coalesce((select max(v) from w), CHANGE_TRACKING_CURRENT_VERSION())) CT"
    assert "AFTER (coalesce((select max(v) from w), (CV)))" in rewrite(sql, Dialect())


def test_strings_comments_and_quoted_names_are_left_alone():
    sql = (
        "SELECT 'CHANGE_TRACKING_CURRENT_VERSION()' AS a, \"CHANGETABLE\" AS b -- CHANGETABLE(CHANGES t, 1)\n"
        "/* CHANGE_TRACKING_CURRENT_VERSION() */ FROM x"
    )
    assert rewrite(sql, Dialect()) == sql


def test_a_column_called_like_a_function_is_left_alone():
    assert rewrite("SELECT t.changetable FROM t", Dialect()) == "SELECT t.changetable FROM t"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM CHANGETABLE(VERSION t, (id), (1)) AS CT", "only CHANGETABLE(CHANGES"),
        ("SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(name))", "OBJECT_ID needs a quoted table name"),
        ("SELECT * FROM CHANGETABLE(CHANGES t, (1) AS CT", "not closed"),
    ],
)
def test_malformed_calls_say_what_and_where(sql, message):
    with pytest.raises(TerminalError) as caught:
        rewrite(sql, Dialect())
    assert message in caught.value.message
    assert "at position" in caught.value.message
