"""Validation on save: expressions, activity references in scope, declared parameters and variables,
schedule fields, numeric bounds and names, each finding at the JSON path of the fault."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncjobs.adf.findings import DefinitionError
from syncjobs.services.definitions import save_definition
from tests.factories import make_pipeline

pytestmark = pytest.mark.django_db

ACTS = "properties.activities"


def wait(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}, **more}


def set_variable(name: str, value: Any, **more: Any) -> dict[str, Any]:
    return {"name": name, "type": "SetVariable", "typeProperties": {"variableName": "v", "value": value}, **more}


def for_each(name: str, body: list, **tp: Any) -> dict[str, Any]:
    items = {"value": "@pipeline().parameters.list", "type": "Expression"}
    return {"name": name, "type": "ForEach", "typeProperties": {"items": items, "activities": body, **tp}}


BASE = {
    "name": "Checked",
    "properties": {
        "parameters": {"list": {"type": "Array", "defaultValue": [1]}},
        "variables": {"v": {"type": "String"}},
        "activities": [wait("First")],
    },
}


def refused(kind: str, definition: dict[str, Any]) -> list[tuple[str, str]]:
    """The (path, message) findings that stopped saving ``definition``."""
    with pytest.raises(DefinitionError) as caught:
        save_definition(kind, definition)
    return [(f.path, f.message) for f in caught.value.findings]


def findings_of(*activities: dict[str, Any], **props: Any) -> list[tuple[str, str]]:
    definition = copy.deepcopy(BASE)
    definition["properties"]["activities"] = list(activities)
    definition["properties"].update(props)
    return refused("pipeline", definition)


def assert_finding(found: list[tuple[str, str]], path: str, fragment: str) -> None:
    assert any(p == path and fragment in m for p, m in found), found


CASES = {
    "a syntax error in an @ expression": (
        [set_variable("S", "@concat('a', ")],
        f"{ACTS}[0].typeProperties.value",
        "expression error",
    ),
    "a syntax error in an @{} interpolation": (
        [set_variable("S", "file-@{formatDateTime(utcnow(), 'yyyy'}.csv")],
        f"{ACTS}[0].typeProperties.value",
        "expression error",
    ),
    "an unknown function in an expression object": (
        [set_variable("S", {"value": "@activty('First').output", "type": "Expression"})],
        f"{ACTS}[0].typeProperties.value.value",
        "unknown function 'activty'",
    ),
    "an expression past 8,192 characters": (
        [set_variable("S", "@concat('" + "x" * 8200 + "')")],
        f"{ACTS}[0].typeProperties.value",
        "ADF's limit is 8,192",
    ),
    "activity() naming no activity": (
        [wait("First"), set_variable("S", "@string(activity('Nope').output)")],
        f"{ACTS}[1].typeProperties.value",
        "activity('Nope') names no activity in scope",
    ),
    "activity() naming an activity inside another container": (
        [for_each("Loop", [wait("Inner")]), set_variable("S", "@string(activity('Inner').output)")],
        f"{ACTS}[1].typeProperties.value",
        "activity('Inner') names no activity in scope",
    ),
    "activity() naming itself": (
        [set_variable("S", "@string(activity('S').output)")],
        f"{ACTS}[0].typeProperties.value",
        "activity('S') names no activity in scope",
    ),
    "dependsOn naming no activity of the container": (
        [for_each("Loop", [wait("Inner", dependsOn=[{"activity": "First", "dependencyConditions": ["Succeeded"]}])])],
        f"{ACTS}[0].typeProperties.activities[0].dependsOn[0].activity",
        "unknown activity 'First'",
    ),
    "an undeclared variable": (
        [set_variable("S", "@variables('nope')")],
        f"{ACTS}[0].typeProperties.value",
        "variables('nope') is not declared",
    ),
    "an undeclared parameter": (
        [set_variable("S", "@pipeline().parameters.nope")],
        f"{ACTS}[0].typeProperties.value",
        "pipeline().parameters.nope is not declared",
    ),
    "item() outside a ForEach": (
        [set_variable("S", "@string(item())")],
        f"{ACTS}[0].typeProperties.value",
        "item() is only available inside a ForEach",
    ),
    "a retry past the bound": ([wait("W", policy={"retry": 1000})], f"{ACTS}[0].policy.retry", "at most 100"),
    "a retry interval under 30 s": (
        [wait("W", policy={"retryIntervalInSeconds": 5})],
        f"{ACTS}[0].policy.retryIntervalInSeconds",
        "at least 30",
    ),
    "a timeout past 7 days": (
        [wait("W", policy={"timeout": "8.00:00:00"})],
        f"{ACTS}[0].policy.timeout",
        "at most 7.00:00:00",
    ),
    "a timeout with 25 hours": (
        [wait("W", policy={"timeout": "0.25:00:00"})],
        f"{ACTS}[0].policy.timeout",
        "below 24",
    ),
    "a timeout that is not d.hh:mm:ss": (
        [wait("W", policy={"timeout": "soon"})],
        f"{ACTS}[0].policy.timeout",
        "d.hh:mm:ss",
    ),
    "a Wait of a year": (
        [{"name": "W", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 31_536_000}}],
        f"{ACTS}[0].typeProperties.waitTimeInSeconds",
        "at most 604,800",
    ),
    "a batchCount of 51": (
        [for_each("Loop", [wait("Inner")], batchCount=51)],
        f"{ACTS}[0].typeProperties.batchCount",
        "at most 50 (ADF's limit)",
    ),
    "a batchCount of 0": (
        [for_each("Loop", [wait("Inner")], batchCount=0)],
        f"{ACTS}[0].typeProperties.batchCount",
        "at least 1",
    ),
    "a newline in an activity name": ([wait("Two\nLines")], f"{ACTS}[0].name", "control characters"),
    "an activity name of 56 characters": ([wait("W" * 56)], f"{ACTS}[0].name", "at most 55"),
    "a slash in an activity name": ([wait("a/b")], f"{ACTS}[0].name", "must not contain any of"),
    "a tab in a parameter name": (
        [wait("W")],
        "properties.parameters.bad\tname",
        "control characters",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_pipeline_save_points_at_the_fault(case):
    activities, path, fragment = CASES[case]
    extra = {}
    if "parameter name" in case:
        extra["parameters"] = {"bad\tname": {"type": "String"}}
    assert_finding(findings_of(*activities, **extra), path, fragment)


def test_a_good_pipeline_with_references_in_scope_saves():
    inner = set_variable("Inner", "@concat(string(item()), string(activity('First').output))")
    loop = for_each(
        "Loop", [inner], batchCount=50, dependsOn=[{"activity": "First", "dependencyConditions": ["Succeeded"]}]
    )
    definition = copy.deepcopy(BASE)
    definition["properties"]["activities"] = [wait("First", policy={"timeout": "7.00:00:00", "retry": 3}), loop]
    saved, warnings = save_definition("pipeline", definition)
    assert saved.name == "Checked" and not [w for w in warnings if "scope" in w.message]


def test_object_names_with_control_characters_are_refused():
    with pytest.raises(DefinitionError, match="control characters"):
        make_pipeline("Bad\x07Name")


RECURRENCE = {"frequency": "Day", "interval": 1, "startTime": "2026-01-01T00:00:00Z", "timeZone": "UTC"}
SCHEDULES = {
    "minutes as a number": ({"minutes": 5}, "schedule.minutes", "must be an array"),
    "a minute of 60": ({"minutes": [0, 60]}, "schedule.minutes[1]", "from 0 to 59"),
    "an hour of 24": ({"hours": [24]}, "schedule.hours[0]", "from 0 to 23"),
    "an hour as text": ({"hours": ["9"]}, "schedule.hours[0]", "from 0 to 23"),
    "a week day that is no day": ({"weekDays": ["Funday"]}, "schedule.weekDays", "needs frequency Week"),
    "month days on a daily trigger": ({"monthDays": [1]}, "schedule.monthDays", "needs frequency Month"),
    "monthly occurrences": (
        {"monthlyOccurrences": [{"day": "Friday", "occurrence": 1}]},
        "schedule.monthlyOccurrences",
        "not supported",
    ),
}


@pytest.mark.parametrize("case", list(SCHEDULES), ids=list(SCHEDULES))
def test_a_schedule_trigger_save_points_at_the_field(case):
    schedule, path, fragment = SCHEDULES[case]
    make_pipeline()
    props = {
        "type": "ScheduleTrigger",
        "typeProperties": {"recurrence": {**RECURRENCE, "schedule": schedule}},
        "pipelines": [{"pipelineReference": {"referenceName": "WaitPipeline", "type": "PipelineReference"}}],
    }
    found = refused("trigger", {"name": "T", "properties": props})
    assert_finding(found, f"properties.typeProperties.recurrence.{path}", fragment)


def test_week_days_and_month_days_in_range_save():
    make_pipeline()
    pipelines = [{"pipelineReference": {"referenceName": "WaitPipeline", "type": "PipelineReference"}}]
    for frequency, schedule in (
        ("Week", {"weekDays": ["Monday"], "hours": [0, 23]}),
        ("Month", {"monthDays": [1, -1]}),
    ):
        recurrence = {**RECURRENCE, "frequency": frequency, "schedule": {**schedule, "minutes": [0, 59]}}
        props = {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}, "pipelines": pipelines}
        save_definition("trigger", {"name": f"T{frequency}", "properties": props})
