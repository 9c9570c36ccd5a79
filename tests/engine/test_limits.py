"""Bounded work: ADF's limits (ForEach items and batchCount, 4 MB outputs, 8,192-character expressions) and
the portal's own bounds on what an expression may build, each refused with a clear message."""

from __future__ import annotations

import tracemalloc

import pytest

from syncjobs.engine.errors import TerminalError
from syncjobs.engine.expressions import ExpressionContext, ExpressionError, evaluate
from syncjobs.engine.pipeline.policy import Policy
from syncjobs.engine.pipeline.runner import run_pipeline
from tests.engine.run_hosts import MemoryHost, info

MB = 1024 * 1024


def peak_bytes(work) -> int:
    tracemalloc.start()
    try:
        work()
    except ExpressionError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def refuse(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(text, ExpressionContext())


def test_join_of_five_million_numbers_is_refused_without_building_them():
    refuse("@join(range(0, 5000000), ',')", "5,000,000 items; the limit is 100,000")
    assert peak_bytes(lambda: evaluate("@join(range(0, 5000000), ',')", ExpressionContext())) < 1 * MB
    assert len(evaluate("@range(0, 100000)", ExpressionContext())) == 100_000


def test_strings_that_would_pass_the_limit_are_refused_before_they_are_built():
    context = ExpressionContext(variables={"s": "a" * 100_000})
    with pytest.raises(ExpressionError, match="would pass 4,194,304 characters"):
        evaluate("@replace(variables('s'), 'a', variables('s'))", context)  # 10 GB if built
    peak = peak_bytes(lambda: evaluate("@replace(variables('s'), 'a', variables('s'))", context))
    assert peak < 5 * MB
    with pytest.raises(ExpressionError, match="would pass"):
        evaluate("@concat(" + ", ".join(["variables('s')"] * 50) + ")", context)
    with pytest.raises(ExpressionError, match="items; the limit is 100,000"):
        evaluate("@split(concat(variables('s'), variables('s')), 'a')", context)


def test_integers_are_64_bit_and_numbers_finite():
    refuse("@mul(mul(4294967296, 4294967296), 2)", "integer overflow")
    refuse("@float('1e999')", "not a finite number")
    refuse("@json('[NaN]')", "NaN is not a JSON number")


def test_expressions_past_adfs_length_or_nested_too_deep_are_refused():
    refuse("@concat('" + "x" * 8200 + "')", "8,192")
    refuse("@" + "string(" * 150 + "1" + ")" * 150, "nested deeper than 100 levels")
    refuse("@pipeline()" + ".a" * 150, "more than 100 properties")


def test_union_and_intersection_of_large_arrays_keep_order_and_dedupe():
    context = ExpressionContext(variables={"a": list(range(60_000)), "b": list(range(30_000, 90_000))})
    assert evaluate("@union(variables('a'), variables('b'))", context) == list(range(90_000))
    assert evaluate("@intersection(variables('a'), variables('b'))", context) == list(range(30_000, 60_000))
    objects = ExpressionContext(variables={"a": [{"k": 1}, {"k": 1}, {"k": 2}], "b": [{"k": 2}]})
    assert evaluate("@union(variables('a'), variables('b'))", objects) == [{"k": 1}, {"k": 2}]


def each(items: str, *, batch=None, body=None) -> dict:
    tp = {"items": {"value": items, "type": "Expression"}, "activities": body or []}
    if batch is not None:
        tp["batchCount"] = batch
    return {"name": "Each", "type": "ForEach", "typeProperties": tp}


def run(*activities, variables=None) -> tuple[MemoryHost, object]:
    host = MemoryHost([])
    props = {"activities": list(activities), "variables": variables or {}}
    outcome = run_pipeline({"pipeline": {"name": "P", "properties": props}}, info("P"), host)
    return host, outcome


def test_a_foreach_over_more_than_100000_items_is_refused():
    many = {"type": "Array", "defaultValue": list(range(100_001))}
    host, outcome = run(each("@variables('many')"), variables={"many": many})
    assert outcome.status == "Failed"
    assert "got 100,001 items; ADF's limit is 100,000" in host.run("Each")["error"]["message"]


@pytest.mark.parametrize("batch", [51, 0, "many", 2.5])
def test_a_batch_count_outside_1_to_50_is_refused(batch):
    host, outcome = run(each("@range(0, 3)", batch=batch))
    assert outcome.status == "Failed"
    assert "batchCount must be an integer from 1 to 50" in host.run("Each")["error"]["message"]


def test_an_output_past_4_mb_fails_the_activity():
    big = "x" * (3 * MB)
    value = {"value": "@createArray(variables('big'), variables('big'))", "type": "Expression"}
    setter = {"name": "Set", "type": "SetVariable", "typeProperties": {"variableName": "v", "value": value}}
    host, outcome = run(setter, variables={"big": {"type": "String", "defaultValue": big}, "v": {"type": "Array"}})
    assert outcome.status == "Failed"
    error = host.run("Set")["error"]["message"]
    assert "output is" in error and "ADF's limit is 4 MB" in error
    assert host.run("Set")["input"] == {}  # the 6 MB input is not recorded either


def test_policies_and_waits_past_their_bounds_are_refused_at_run_time_too():
    with pytest.raises(TerminalError, match="timeout must be at most 7.00:00:00"):
        Policy.of({"name": "A", "policy": {"timeout": "8.00:00:00"}})
    with pytest.raises(TerminalError, match="retry must be 0 to 100"):
        Policy.of({"name": "A", "policy": {"retry": 10**12}})
    wait = {"name": "W", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 10**12}}
    host, outcome = run(wait)
    assert outcome.status == "Failed" and "waitTimeInSeconds must be 0 to 604,800" in host.run("W")["error"]["message"]


def test_a_cancelled_100000_item_foreach_stops_at_once():
    body = [{"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}]
    host = MemoryHost([])
    host.cancel_after = 2_000
    props = {"activities": [each("@range(0, 100000)", batch=50, body=body)]}
    outcome = run_pipeline({"pipeline": {"name": "P", "properties": props}}, info("P"), host)
    assert outcome.status == "Cancelled"
    assert len([r for r in host.runs if r["name"] == "Pause"]) < 3_000  # not 100,000 iterations after the cancel
