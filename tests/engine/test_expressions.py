"""ADF's expression language, on the tutorial's own expressions and each function."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from syncjobs.engine.expressions import (
    ExpressionContext,
    ExpressionError,
    check,
    evaluate,
    is_expression,
    references,
    resolve,
)

STUDIO = Path(__file__).resolve().parents[1] / "data" / "adf" / "studio"
RUN_ID = "6f1c2e1a-0000-4000-8000-000000000001"


def context(**overrides):
    values = {
        "pipeline": {
            "RunId": RUN_ID,
            "Pipeline": "IncrementalCopyPipeline",
            "TriggerTime": "2026-11-23T01:02:03.1234567Z",
            "TriggerType": "Manual",
            "parameters": {"table": "data_source_table", "days": 2, "flag": True},
        },
        "activity_outputs": {
            "LookupLastChangeTrackingVersionActivity": {"firstRow": {"SYS_CHANGE_VERSION": 3}},
            "LookupCurrentChangeTrackingVersionActivity": {"firstRow": {"CurrentChangeTrackingVersion": 5}},
        },
        "variables": {"name": "x", "list": [1, 2, 3]},
    }
    values.update(overrides)
    return ExpressionContext(**values)


def e(text, **overrides):
    return evaluate(text, context(**overrides))


def test_the_tutorials_sink_file_name():
    sink = json.loads((STUDIO / "SinkDataset.json").read_text())
    file_name = sink["properties"]["typeProperties"]["location"]["fileName"]
    assert evaluate(file_name, context()) == f"Incremental-{RUN_ID}.csv"


def test_the_tutorials_copy_query_is_interpolated_with_both_lookups():
    pipeline = json.loads((STUDIO / "IncrementalCopyPipeline.json").read_text())
    copy = next(a for a in pipeline["properties"]["activities"] if a["type"] == "Copy")
    query = evaluate(copy["typeProperties"]["source"]["sqlReaderQuery"], context())
    assert "CHANGETABLE(CHANGES data_source_table, 3) AS CT" in query
    assert query.endswith("where CT.SYS_CHANGE_VERSION <= 5")
    assert "@" not in query


def test_whole_expressions_keep_their_type_and_interpolation_gives_text():
    assert e("@pipeline().parameters.days") == 2
    assert e("@pipeline().parameters.flag") is True
    assert e("@{pipeline().parameters.days}") == "2"
    assert e("n=@{pipeline().parameters.days}, f=@{pipeline().parameters.flag}") == "n=2, f=true"
    assert e("@variables('list')") == [1, 2, 3]
    assert e("list: @{variables('list')}") == "list: [1,2,3]"
    assert e("plain text") == "plain text"
    assert e(7) == 7


def test_escapes():
    assert e("@@pipeline()") == "@pipeline()"
    assert e("Answer is: @@{pipeline().parameters.days}") == "Answer is: @{pipeline().parameters.days}"
    assert e("@concat('it''s', ' ok')") == "it's ok"
    assert e("@{concat('a}', 'b')}") == "a}b"


def test_expression_objects_and_resolve():
    obj = {"value": "@add(1, 2)", "type": "Expression"}
    assert evaluate(obj, context()) == 3
    tree = {"a": obj, "b": ["@toUpper('x')", {"c": "@{variables('name')}"}], "skip": {"d": "@item()"}}
    assert resolve(tree, context(), frozenset({"skip"})) == {"a": 3, "b": ["X", {"c": "x"}], "skip": {"d": "@item()"}}


def test_property_access_is_case_insensitive_and_indexable():
    assert (
        e("@activity('lookupcurrentchangetrackingversionactivity').output.firstrow.currentchangetrackingversion") == 5
    )
    assert e("@variables('list')[1]") == 2
    assert e("@pipeline()['parameters']['table']") == "data_source_table"
    assert e("@pipeline()?.parameters?.missing") is None


def test_item_dataset_and_linked_service():
    assert e("@item().name", item={"name": "t1"}) == "t1"
    assert e("@dataset().fileName", dataset={"fileName": "f.csv"}) == "f.csv"
    assert e("@linkedService().db", linked_service={"db": "d"}) == "d"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@concat('a', 1, true)", "a1true"),
        ("@string(12)", "12"),
        ("@int('42')", 42),
        ("@float('1.5')", 1.5),
        ("@bool('true')", True),
        ("@add(2, 3)", 5),
        ("@sub(2, 3)", -1),
        ("@mul(2, 3)", 6),
        ("@div(7, 2)", 3),
        ("@mod(7, 2)", 1),
        ("@equals('a', 'a')", True),
        ("@not(equals(1, 2))", True),
        ("@and(true, equals(1, 1))", True),
        ("@or(false, false)", False),
        ("@if(greater(2, 1), 'yes', 'no')", "yes"),
        ("@if(true, 'only this', div(1, 0))", "only this"),
        ("@coalesce(null, null, 'c')", "c"),
        ("@greaterOrEquals(2, 2)", True),
        ("@less(1, 2)", True),
        ("@lessOrEquals(3, 2)", False),
        ("@empty('')", True),
        ("@length(createArray(1, 2))", 2),
        ("@contains('abc', 'b')", True),
        ("@startsWith('Hello', 'he')", True),
        ("@endsWith('Hello', 'LO')", True),
        ("@substring('hello', 1, 3)", "ell"),
        ("@indexOf('hello', 'l')", 2),
        ("@split('a,b', ',')", ["a", "b"]),
        ("@join(createArray('a', 'b'), '-')", "a-b"),
        ("@trim('  x ')", "x"),
        ("@toUpper('abc')", "ABC"),
        ("@toLower('ABC')", "abc"),
        ("@replace('a-b-c', '-', '/')", "a/b/c"),
        ("@json('{\"a\": [1]}').a[0]", 1),
        ("@first(createArray(4, 5))", 4),
        ("@last(createArray(4, 5))", 5),
        ("@union(createArray(1, 2), createArray(2, 3))", [1, 2, 3]),
        ("@range(1, 3)", [1, 2, 3]),
        ("@min(3, 1, 2)", 1),
        ("@max(createArray(3, 1, 2))", 3),
        ("@base64ToString(base64('hi'))", "hi"),
        ("@formatDateTime('2026-11-23T01:02:03.1234567Z', 'yyyyMMddHHmmss')", "20261123010203"),
        ("@formatDateTime('2026-11-23T01:02:03.1234567Z')", "2026-11-23T01:02:03.1234567Z"),
        ("@formatDateTime('2026-11-23T01:02:03+02:00', 'yyyy-MM-dd HH:mm')", "2026-11-22 23:02"),
        ("@addDays('2026-11-23T00:00:00Z', -1, 'yyyy-MM-dd')", "2026-11-22"),
        ("@addHours('2026-11-23T00:00:00Z', 25)", "2026-11-24T01:00:00.0000000Z"),
        ("@addMinutes('2026-11-23T00:00:00Z', 90, 's')", "2026-11-23T01:30:00"),
        ("@addSeconds('2026-11-23T00:00:00Z', 5, 'HH:mm:ss')", "00:00:05"),
    ],
)
def test_functions(text, expected):
    assert e(text) == expected


def test_utcnow_and_guid_have_adf_shapes():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", e("@utcnow()"))
    assert re.fullmatch(r"\d{8}", e("@utcnow('yyyyMMdd')"))
    assert re.fullmatch(r"[0-9a-f-]{36}", e("@guid()"))


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("@conact('a', 'b')", 0, "unknown function 'conact'"),
        ("@concat('a', pipeline().RunId", 28, "expected ')'"),
        ("@concat('a)", 7, "string not closed"),
        ("@activity('Nope').output", 0, "activity 'Nope' has no output"),
        ("@pipeline().parameters.nothere", 22, "property 'nothere' does not exist"),
        ("@add(1, 'x')", 0, "add() needs numbers"),
        ("@variables('v9')", 0, "variable 'v9' is not declared"),
        ("@item()", 0, "only available inside a ForEach"),
        ("@concat('a', 1 2)", 14, "expected ')'"),
    ],
)
def test_errors_carry_the_expression_and_position(text, position, words):
    with pytest.raises(ExpressionError) as caught:
        e(text)
    assert caught.value.position == position
    assert words in caught.value.message
    assert caught.value.expression == text[1:]
    assert f"position {position}" in str(caught.value)


def test_error_inside_interpolation_names_the_inner_expression():
    with pytest.raises(ExpressionError) as caught:
        e("SELECT @{activity('Missing').output.firstRow.x}")
    assert caught.value.expression == "activity('Missing').output.firstRow.x"


def test_check_finds_syntax_errors_and_unknown_functions_without_running():
    definition = {
        "a": "@concat('x', pipeline().RunId)",
        "b": ["@{conact('y')}"],
        "c": {"value": "@add(1", "type": "Expression"},
    }
    problems = check(definition)
    assert [p.problem for p in problems] == ["unknown function 'conact'", "expected ')' but found the end"]
    assert check({"ok": "@activity('Nope').output"}) == []  # names are the validator's business


def test_references_lists_names_used():
    names = references(
        {
            "q": "@{activity('A').output.firstRow.v} @{variables('v')} @{pipeline().parameters.p}",
            "f": "@dataset().fileName",
        }
    )
    assert names.activities == {"A"}
    assert names.variables == {"v"}
    assert names.parameters == {"p"}
    assert names.dataset_parameters == {"fileName"}
    assert {"activity", "variables", "pipeline", "dataset"} <= names.functions


def test_is_expression():
    assert is_expression("@x()") and is_expression({"value": "a @{b()}", "type": "Expression"})
    assert not is_expression("@@literal") and not is_expression("plain")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@div(-7, 2)", -3),
        ("@div(7, -2)", -3),
        ("@div(-7, -2)", 3),
        ("@div(7.0, 2)", 3.5),
        ("@mod(-7, 2)", -1),
        ("@mod(7, -2)", 1),
        ("@mod(7.5, 2)", 1.5),
    ],
)
def test_integer_division_and_remainder_truncate_toward_zero_as_in_dotnet(text, expected):
    assert e(text) == expected


@pytest.mark.parametrize("text", ["@mod(1, 0)", "@div(1, 0)", "@concat('a', mod(5, sub(1, 1)))"])
def test_division_by_zero_is_an_expression_error(text):
    with pytest.raises(ExpressionError) as caught:
        e(text)
    assert "by zero" in caught.value.message
    assert caught.value.position == text[1:].index("mod" if "mod" in text else "div")


def test_references_reads_bracketed_names_and_survives_broken_text():
    names = references(["@pipeline()['parameters']['p1']", "@pipeline().Parameters.p2", "@dataset()['folder']"])
    assert names.parameters == {"p1", "p2"}
    assert names.dataset_parameters == {"folder"}
    assert references("SELECT @{activity('A').output") == references("")
    assert check("SELECT @{activity('A').output")[0].problem == "'@{' is not closed by '}'"


def test_function_names_ignore_case_as_in_the_published_tutorial():
    assert e("@CONCAT('Incremental-', pipeline().RunId, '.txt')") == f"Incremental-{RUN_ID}.txt"
    assert e("@toUPPER('x')") == "X"
    assert check("@CONCAT('a')") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@startOfDay('2026-11-23T13:14:15Z')", "2026-11-23T00:00:00.0000000Z"),
        ("@startOfHour('2026-11-23T13:14:15Z', 'HH:mm:ss')", "13:00:00"),
        ("@startOfMonth('2026-11-23T13:14:15Z', 'yyyy-MM-dd')", "2026-11-01"),
        ("@dayOfWeek('2026-11-22T00:00:00Z')", 0),
        ("@dayOfMonth('2026-11-22T00:00:00Z')", 22),
        ("@dayOfYear('2026-02-01T00:00:00Z')", 32),
        ("@ticks('2000-01-01T00:00:00Z')", 630822816000000000),
        ("@addToTime('2026-01-01T00:00:00Z', 2, 'Hour', 'HH:mm')", "02:00"),
        ("@subtractFromTime('2026-01-01T00:00:00Z', 1, 'Day', 'yyyy-MM-dd')", "2025-12-31"),
        ("@intersection(createArray(1, 2, 3), createArray(2, 3, 4))", [2, 3]),
        ("@array('a')", ["a"]),
        ("@uriComponent('a b/c')", "a%20b%2Fc"),
        ("@uriComponentToString('a%20b%2Fc')", "a b/c"),
    ],
)
def test_more_of_adfs_functions(text, expected):
    assert e(text) == expected


def test_time_units_are_checked():
    with pytest.raises(ExpressionError, match="time unit 'Fortnight'"):
        e("@addToTime('2026-01-01T00:00:00Z', 1, 'Fortnight')")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", e("@getPastTime(1, 'Day', 'yyyy-MM-dd')"))
    assert e("@getFutureTime(1, 'Day', 'yyyy-MM-dd')") > e("@getPastTime(1, 'Day', 'yyyy-MM-dd')")
