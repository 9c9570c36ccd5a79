"""Checks of a pipeline's expressions at save: syntax, length, and the names they use, each at its JSON path.

Every ``"@..."`` value, ``"... @{...} ..."`` interpolation and ``{"value", "type": "Expression"}`` object
inside an activity is parsed with the engine's own parser. ``activity('X')`` must name an activity in
scope — one of the same container or of a container around it, never itself — as ADF requires;
``variables('v')`` and ``pipeline().parameters.p`` must be declared; ``item()`` needs a ForEach around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from syncjobs.adf.findings import WARNING, Checker
from syncjobs.engine.errors import EngineError
from syncjobs.engine.expressions import check as check_syntax
from syncjobs.engine.expressions import references
from syncjobs.engine.expressions.templates import expressions_in
from syncjobs.engine.limits import EXPRESSION_CHARS

_BODIES = ("activities", "ifTrueActivities", "ifFalseActivities")
_EVALUATED = ("typeProperties", "inputs", "outputs", "linkedServiceName")  # where ADF evaluates expressions


@dataclass(frozen=True)
class Scope:
    """What an activity's expressions may name: activities around it, variables, parameters, ForEach or not."""

    activities: frozenset[str]
    upstream: frozenset[str]
    variables: frozenset[str]
    parameters: frozenset[str]
    in_foreach: bool


def check_expressions(check: Checker, props: dict[str, Any]) -> None:
    """Add findings for every expression of a pipeline's activities."""
    activities = props.get("activities")
    if not isinstance(activities, list):
        return
    variables = _lowered(props.get("variables"))
    parameters = _lowered(props.get("parameters"))
    _container(check, activities, "properties.activities", frozenset(), variables, parameters, False)


def _lowered(declarations: Any) -> frozenset[str]:
    return frozenset(str(k).lower() for k in declarations) if isinstance(declarations, dict) else frozenset()


def _container(
    check: Checker,
    activities: list[Any],
    path: str,
    outer: frozenset[str],
    variables: frozenset[str],
    parameters: frozenset[str],
    in_foreach: bool,
) -> None:
    here = [a for a in activities if isinstance(a, dict)]
    names = frozenset(str(a.get("name")) for a in here if isinstance(a.get("name"), str))
    visible = outer | names
    for i, activity in enumerate(activities):
        if not isinstance(activity, dict):
            continue
        at = f"{path}[{i}]"
        name = str(activity.get("name"))
        scope = Scope(visible - {name}, _upstream(here, name), variables, parameters, in_foreach)
        _activity(check, activity, at, scope)
        tp = activity.get("typeProperties")
        if not isinstance(tp, dict):
            continue
        for key in _BODIES:
            if isinstance(tp.get(key), list):
                inner_foreach = in_foreach or activity.get("type") == "ForEach"
                body_path = f"{at}.typeProperties.{key}"
                _container(check, tp[key], body_path, visible - {name}, variables, parameters, inner_foreach)


def _upstream(activities: list[dict[str, Any]], name: str) -> frozenset[str]:
    """The activities ``name`` depends on, directly or through others (its output exists by then)."""
    by_name = {a.get("name"): a for a in activities}
    seen: set[str] = set()
    stack = [name]
    while stack:
        depends = (by_name.get(stack.pop()) or {}).get("dependsOn")
        for dep in depends if isinstance(depends, list) else []:
            target = dep.get("activity") if isinstance(dep, dict) else None
            if isinstance(target, str) and target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(seen)


def _activity(check: Checker, activity: dict[str, Any], path: str, scope: Scope) -> None:
    evaluated = ((key, activity[key]) for key in _EVALUATED if key in activity)
    for site, value in (site for key, node in evaluated for site in _sites(node, f"{path}.{key}")):
        if not _syntax(check, site, value):
            continue
        names = references(value)
        for used in sorted(names.activities):
            if used not in scope.activities:
                check.add(site, f"activity('{used}') names no activity in scope (this container or one around it)")
            elif used not in scope.upstream and path.count("[") == 1:
                check.add(
                    site, f"uses activity('{used}') without depending on it: its output may not exist yet", WARNING
                )
        for variable in sorted(v for v in names.variables if v.lower() not in scope.variables):
            check.add(site, f"variables('{variable}') is not declared in properties.variables")
        for parameter in sorted(p for p in names.parameters if p.lower() not in scope.parameters):
            check.add(site, f"pipeline().parameters.{parameter} is not declared in properties.parameters")
        if "item" in names.functions and not scope.in_foreach:
            check.add(site, "item() is only available inside a ForEach")


def _syntax(check: Checker, site: str, value: Any) -> bool:
    """Record syntax errors and over-long expressions; True when the value's expressions all parse."""
    try:
        too_long = [text for text in expressions_in(value) if len(text) > EXPRESSION_CHARS]
    except EngineError:  # an unclosed "@{": check_syntax reports it
        too_long = []
    if too_long:
        check.add(site, f"an expression of {len(too_long[0]):,} characters; ADF's limit is {EXPRESSION_CHARS:,}")
        return False
    errors = check_syntax(value)
    for error in errors:
        check.add(site, f"expression error: {error.message}")
    return not errors


def _sites(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Each string or expression object under an activity, with its path (nested bodies are their own)."""
    if isinstance(node, str) or (isinstance(node, dict) and node.get("type") == "Expression"):
        if isinstance(node, str) or isinstance(node.get("value"), str):
            yield (f"{path}.value" if isinstance(node, dict) else path), node
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _BODIES and isinstance(value, list) and path.endswith("typeProperties"):
                continue
            yield from _sites(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _sites(value, f"{path}[{i}]")


DATASET_PARAMETER_TYPES = ("String", "Int", "Float", "Bool", "Array", "Object")


def check_dataset_expressions(check: Checker, props: dict[str, Any]) -> None:
    """Add findings for a dataset's parameters and the expressions of its typeProperties.

    Each parameter has one of ADF's types; every expression parses, and ``dataset().name`` names a
    declared parameter (as ADF requires: a dataset sees only its own parameters).
    """
    declared = props.get("parameters")
    if declared is not None and not isinstance(declared, dict):
        check.add("properties.parameters", "must be an object")
        declared = {}
    for name, spec in (declared or {}).items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if str(kind).lower() not in {t.lower() for t in DATASET_PARAMETER_TYPES}:  # Studio writes "string"
            check.add(f"properties.parameters.{name}.type", f"must be one of {', '.join(DATASET_PARAMETER_TYPES)}")
    names = _lowered(declared)
    for site, value in _sites(props.get("typeProperties"), "properties.typeProperties"):
        if not _syntax(check, site, value):
            continue
        for used in sorted(p for p in references(value).dataset_parameters if p.lower() not in names):
            check.add(site, f"dataset().{used} is not declared in properties.parameters")
