"""Validation of pipelines and their activities, and the datasets and linked services they reference."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncjobs.adf.expression_checks import check_expressions
from syncjobs.adf.findings import Checker, KnownObjects, is_expression
from syncjobs.engine import connectors, limits

ACTIVITY_TYPES = (
    "Copy",
    "Lookup",
    "SqlServerStoredProcedure",
    "Script",
    "SetVariable",
    "IfCondition",
    "ForEach",
    "Wait",
    "ChangeTrackingCopy",
)
SINK_TYPES = ("DelimitedTextSink", "ParquetSink")
DEPENDENCY_CONDITIONS = ("Succeeded", "Failed", "Skipped", "Completed")
PARAMETER_TYPES = ("String", "Int", "Float", "Bool", "Array", "Object", "SecureString")
VARIABLE_TYPES = ("String", "Boolean", "Array", "Integer")
_TIMEOUT = re.compile(r"^(?:(\d{1,3})\.)?(\d{1,2}):([0-5]\d):([0-5]\d)$")
# ADF: activity names at most 55 characters, none of . + ? / < > * % & : \ in them.
_ACTIVITY_NAME_FORBIDDEN = re.compile(r"[.+?/<>*%&:\\]")
_ACTIVITY_NAME_LENGTH = 55


@dataclass
class References:
    """Names a pipeline refers to, as written."""

    datasets: set[str] = field(default_factory=set)
    linked_services: set[str] = field(default_factory=set)


def iter_activities(activities: Any, path: str = "properties.activities") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every activity, nested ones included (IfCondition branches, ForEach bodies), with its path."""
    if not isinstance(activities, list):
        return
    for i, activity in enumerate(activities):
        if not isinstance(activity, dict):
            continue
        here = f"{path}[{i}]"
        yield here, activity
        tp = activity.get("typeProperties") or {}
        if isinstance(tp, dict):
            for key in ("ifTrueActivities", "ifFalseActivities", "activities"):
                yield from iter_activities(tp.get(key), f"{here}.typeProperties.{key}")


def pipeline_references(definition: dict[str, Any]) -> References:
    """The datasets and linked services a pipeline definition names (expressions left out)."""
    refs = References()
    for path, activity in iter_activities((definition.get("properties") or {}).get("activities")):
        for kind, holder, _ in activity_references(activity, path):
            name = holder.get("referenceName")
            if isinstance(name, str) and name and not is_expression(name):
                (refs.datasets if kind == "dataset" else refs.linked_services).add(name.strip())
    return refs


def activity_references(activity: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """``(kind, holder, path)`` for each reference of one activity (inner activities not included): ``kind``
    is ``dataset`` or ``linkedService``, ``holder`` the object whose ``referenceName`` names it, at ``path``."""
    for key in ("inputs", "outputs"):
        for i, ref in enumerate(activity.get(key) or []):
            if isinstance(ref, dict):
                yield "dataset", ref, f"{path}.{key}[{i}]"
    tp = activity.get("typeProperties") or {}
    if isinstance(tp, dict) and isinstance(tp.get("dataset"), dict):
        yield "dataset", tp["dataset"], f"{path}.typeProperties.dataset"
    if isinstance(activity.get("linkedServiceName"), dict):
        yield "linkedService", activity["linkedServiceName"], f"{path}.linkedServiceName"


def validate_pipeline(check: Checker, props: dict[str, Any], known: KnownObjects | None) -> None:
    """Add findings for a pipeline's ``properties``."""
    parameters = _declarations(check, props.get("parameters"), "properties.parameters", PARAMETER_TYPES)
    if len(parameters) > limits.PARAMETERS_PER_PIPELINE:
        check.add(
            "properties.parameters", f"{len(parameters)} parameters; ADF's limit is {limits.PARAMETERS_PER_PIPELINE}"
        )
    variables = _declarations(check, props.get("variables"), "properties.variables", VARIABLE_TYPES)
    activities = check.items(props.get("activities"), "properties.activities", required=True)
    _container(check, activities, "properties.activities")
    seen: dict[str, str] = {}
    for path, activity in iter_activities(activities):
        name = activity.get("name")
        if isinstance(name, str) and name:
            if name.lower() in seen:
                check.add(f"{path}.name", f"duplicate activity name {name!r} (also at {seen[name.lower()]})")
            seen.setdefault(name.lower(), path)
        _activity(check, activity, path, variables, known)
    if len(seen) > limits.ACTIVITIES_PER_PIPELINE:
        check.add(
            "properties.activities",
            f"{len(seen)} activities (inner ones included); ADF's limit is {limits.ACTIVITIES_PER_PIPELINE}",
        )
    check_expressions(check, props)


def _declarations(check: Checker, node: Any, path: str, types: tuple[str, ...]) -> set[str]:
    decls = check.obj(node, path, required=False)
    for name, decl in decls.items():
        check.name_text(name, f"{path}.{name}")
        spec = check.obj(decl, f"{path}.{name}")
        if spec:
            check.choice(spec, "type", f"{path}.{name}", types, required=True)
    return {name.lower() for name in decls}


def _container(check: Checker, activities: list[Any], path: str) -> None:
    """dependsOn may only name activities of the same container, and may not go round in a loop."""
    names = {a.get("name") for a in activities if isinstance(a, dict)}
    graph: dict[Any, list[Any]] = {}  # names as written: a missing one is reported, not skipped
    for i, activity in enumerate(activities):
        if not isinstance(activity, dict):
            check.add(f"{path}[{i}]", "must be an object")
            continue
        deps = check.items(activity.get("dependsOn"), f"{path}[{i}].dependsOn")
        graph[activity.get("name")] = []
        for j, dep in enumerate(deps):
            here = f"{path}[{i}].dependsOn[{j}]"
            dep = check.obj(dep, here)
            target = dep.get("activity")
            if not dep:
                continue
            if target not in names:
                check.add(
                    f"{here}.activity",
                    f"unknown activity {target!r} (dependsOn names an activity of the same pipeline or container)",
                )
            else:
                graph[activity.get("name")].append(target)
            conditions = check.items(dep.get("dependencyConditions"), f"{here}.dependencyConditions", required=True)
            for k, cond in enumerate(conditions):
                if cond not in DEPENDENCY_CONDITIONS:
                    check.add(f"{here}.dependencyConditions[{k}]", f"must be one of {', '.join(DEPENDENCY_CONDITIONS)}")
    cycle = _find_cycle(graph)
    if cycle:
        check.add(path, f"dependsOn forms a cycle: {' -> '.join(cycle)}")


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, trail: list[str]) -> list[str]:
        if state.get(node) == 1:
            return [*trail[trail.index(node) :], node]
        if state.get(node) == 2:
            return []
        state[node] = 1
        for nxt in graph.get(node, []):
            found = visit(nxt, [*trail, node])
            if found:
                return found
        state[node] = 2
        return []

    for start in graph:
        found = visit(start, [])
        if found:
            return found
    return []


def _window_settings(check: Checker, tp: dict[str, Any], tp_path: str) -> None:
    """ChangeTrackingCopy's sizes: parts (maxRowsPerFile), connections (parallelCopies), batches, and
    tables copied at once (batchCount, as ForEach's)."""
    for key in ("parallelCopies", "batchRows", "maxRowsPerFile"):
        check.integer(tp, key, tp_path, minimum=1)
    check.integer(tp, "batchCount", tp_path, minimum=1, maximum=limits.FOREACH_BATCH, why="ADF's limit")
    sink = tp.get("sink")
    settings = sink.get("formatSettings") if isinstance(sink, dict) else None
    if isinstance(settings, dict):
        check.integer(settings, "maxRowsPerFile", f"{tp_path}.sink.formatSettings", minimum=1)


def _activity(
    check: Checker, activity: dict[str, Any], path: str, variables: set[str], known: KnownObjects | None
) -> None:
    _activity_name(check, activity, path)
    kind = activity.get("type")
    if kind not in ACTIVITY_TYPES:
        check.add(f"{path}.type", f"unknown activity type {kind!r} (supported: {', '.join(ACTIVITY_TYPES)})")
        return
    _policy(check, activity.get("policy"), f"{path}.policy")
    tp_path = f"{path}.typeProperties"
    tp = check.obj(activity.get("typeProperties"), tp_path, required=kind not in ("ChangeTrackingCopy",))
    if kind in ("Copy", "ChangeTrackingCopy"):
        _datasets(check, activity, path, "inputs", known)
        _datasets(check, activity, path, "outputs", known)
    if kind == "Copy":
        _typed(check, tp.get("source"), f"{tp_path}.source", connectors.copy_source_types())
        _typed(check, tp.get("sink"), f"{tp_path}.sink", SINK_TYPES)
    elif kind == "ChangeTrackingCopy":
        _window_settings(check, tp, tp_path)
    elif kind == "Lookup":
        _typed(check, tp.get("source"), f"{tp_path}.source", connectors.copy_source_types())
        _dataset_ref(check, tp.get("dataset"), f"{tp_path}.dataset", known)
    elif kind in ("SqlServerStoredProcedure", "Script"):
        _linked_service_ref(check, activity.get("linkedServiceName"), f"{path}.linkedServiceName", known)
        if kind == "SqlServerStoredProcedure":
            check.text(tp, "storedProcedureName", tp_path)
        else:
            for i, script in enumerate(check.items(tp.get("scripts"), f"{tp_path}.scripts", required=True)):
                node = check.obj(script, f"{tp_path}.scripts[{i}]")
                if node:
                    check.text(node, "text", f"{tp_path}.scripts[{i}]")
    elif kind == "SetVariable":
        name = check.name(tp, "variableName", tp_path)
        if name and name.lower() not in variables and not tp.get("setSystemVariable"):
            check.add(f"{tp_path}.variableName", f"variable {name!r} is not declared in properties.variables")
    elif kind == "IfCondition":
        _expression(check, tp, "expression", tp_path)
    elif kind == "ForEach":
        _for_each(check, tp, tp_path)
    elif kind == "Wait":
        if tp.get("waitTimeInSeconds") is None:
            check.add(f"{tp_path}.waitTimeInSeconds", "required")
        check.integer(tp, "waitTimeInSeconds", tp_path, minimum=0, maximum=limits.WAIT_SECONDS, why="7 days")
    for key in ("ifTrueActivities", "ifFalseActivities", "activities"):
        if isinstance(tp.get(key), list):
            _container(check, tp[key], f"{tp_path}.{key}")


def _activity_name(check: Checker, activity: dict[str, Any], path: str) -> None:
    name = check.name(activity, "name", path, max_length=_ACTIVITY_NAME_LENGTH)
    if name and _ACTIVITY_NAME_FORBIDDEN.search(name):
        check.add(f"{path}.name", f"{name!r}: an activity name must not contain any of . + ? / < > * % & : \\")


def _for_each(check: Checker, tp: dict[str, Any], path: str) -> None:
    _expression(check, tp, "items", path)
    check.integer(tp, "batchCount", path, minimum=1, maximum=limits.FOREACH_BATCH, why="ADF's limit")
    if "isSequential" in tp and not isinstance(tp["isSequential"], bool) and not is_expression(tp["isSequential"]):
        check.add(f"{path}.isSequential", "must be true or false")
    check.items(tp.get("activities"), f"{path}.activities", required=True)


def _policy(check: Checker, node: Any, path: str) -> None:
    policy = check.obj(node, path, required=False)
    check.integer(policy, "retry", path, minimum=0, maximum=limits.RETRIES)
    low, high = limits.RETRY_INTERVAL_SECONDS
    check.integer(policy, "retryIntervalInSeconds", path, minimum=low, maximum=high, why="ADF's bounds")
    timeout = check.text(policy, "timeout", path, required=False)
    match = _TIMEOUT.match(timeout) if timeout else None
    if timeout and not match:
        check.add(f"{path}.timeout", f"must be d.hh:mm:ss with hh < 24, mm and ss < 60 (got {timeout[:40]!r})")
    elif match:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        if hours > 23:
            check.add(f"{path}.timeout", f"the hours of d.hh:mm:ss must be below 24 (got {timeout!r})")
        elif days * 86400 + hours * 3600 + minutes * 60 + seconds > limits.TIMEOUT_SECONDS:
            check.add(f"{path}.timeout", f"must be at most 7.00:00:00, ADF's limit (got {timeout!r})")


def _typed(check: Checker, node: Any, path: str, types: tuple[str, ...]) -> None:
    obj = check.obj(node, path)
    if obj:
        check.choice(obj, "type", path, types, required=True)


def _expression(check: Checker, tp: dict[str, Any], key: str, path: str) -> None:
    if tp.get(key) is None:
        check.add(f"{path}.{key}", "required")
    elif not is_expression(tp[key]):
        check.add(f"{path}.{key}", 'must be an expression ({"value": "@...", "type": "Expression"})')


def _datasets(check: Checker, activity: dict[str, Any], path: str, key: str, known: KnownObjects | None) -> None:
    refs = check.items(activity.get(key), f"{path}.{key}", required=True)
    if len(refs) != 1 and isinstance(activity.get(key), list):
        check.add(f"{path}.{key}", "must name exactly one dataset")
    for i, ref in enumerate(refs):
        _dataset_ref(check, ref, f"{path}.{key}[{i}]", known)


def _dataset_ref(check: Checker, node: Any, path: str, known: KnownObjects | None) -> None:
    ref = check.obj(node, path)
    if not ref:
        return
    if ref.get("type") != "DatasetReference":
        check.add(f"{path}.type", "must be DatasetReference")
    name = check.text(ref, "referenceName", path)
    if name and known is not None and known.dataset(name) is None:
        check.add(f"{path}.referenceName", f"dataset {name!r} does not exist")


def _linked_service_ref(check: Checker, node: Any, path: str, known: KnownObjects | None) -> None:
    ref = check.obj(node, path)
    if not ref:
        return
    name = check.text(ref, "referenceName", path)
    if name and known is not None and known.linked_service_type(name) is None:
        check.add(f"{path}.referenceName", f"linked service {name!r} does not exist")
