"""Edits of a pipeline's top-level activities, on its JSON: add, remove, move, and set what one depends on.

Each returns a changed copy of the definition and never saves; the caller saves it through the
definitions service, which validates the whole pipeline. The checks here are the ones a form should
answer in words before that (a name taken, an unknown activity, a loop), raised as :class:`ActivityEditError`.
"""

from __future__ import annotations

import copy
from typing import Any

from syncjobs.adf.pipelines import DEPENDENCY_CONDITIONS


class ActivityEditError(ValueError):
    """An edit that cannot be made; the message says why, in the operator's words."""


def activities_of(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The top-level activities of a pipeline definition (created empty when missing)."""
    props = definition.setdefault("properties", {})
    activities = props.get("activities")
    if not isinstance(activities, list):
        activities = props["activities"] = []
    return activities


def names_of(definition: dict[str, Any]) -> list[str]:
    """The top-level activity names, in order."""
    return [str(a.get("name", "")) for a in activities_of(definition) if isinstance(a, dict)]


def dependents_of(definition: dict[str, Any], name: str) -> list[str]:
    """The top-level activities whose ``dependsOn`` names ``name``."""
    return [
        str(a.get("name"))
        for a in activities_of(definition)
        if any(d.get("activity") == name for d in a.get("dependsOn") or [] if isinstance(d, dict))
    ]


def add_activity(definition: dict[str, Any], activity: dict[str, Any]) -> dict[str, Any]:
    """The pipeline with ``activity`` appended; its name must be new and its dependencies known."""
    changed = copy.deepcopy(definition)
    if str(activity.get("name", "")).lower() in {n.lower() for n in names_of(changed)}:
        raise ActivityEditError(f"the pipeline already has an activity named {activity.get('name')!r}")
    activities_of(changed).append(copy.deepcopy(activity))
    _check_dependencies(changed, str(activity.get("name")), activity.get("dependsOn") or [])
    return changed


def remove_activity(definition: dict[str, Any], name: str, *, drop_dependencies: bool) -> dict[str, Any]:
    """The pipeline without ``name``; activities depending on it lose that dependency only when told to."""
    changed = copy.deepcopy(definition)
    activities = activities_of(changed)
    index = _index(changed, name)
    dependents = dependents_of(changed, name)
    if dependents and not drop_dependencies:
        raise ActivityEditError(f"{', '.join(dependents)} depend{'s' if len(dependents) == 1 else ''} on {name}")
    del activities[index]
    for activity in activities:
        kept = [d for d in activity.get("dependsOn") or [] if not (isinstance(d, dict) and d.get("activity") == name)]
        if "dependsOn" in activity:
            activity["dependsOn"] = kept
    return changed


def move_activity(definition: dict[str, Any], name: str, offset: int) -> dict[str, Any]:
    """The pipeline with ``name`` moved ``offset`` places (-1 up, +1 down); the order is only how it reads."""
    changed = copy.deepcopy(definition)
    activities = activities_of(changed)
    index = _index(changed, name)
    target = index + offset
    if not 0 <= target < len(activities):
        raise ActivityEditError(f"{name} is already {'first' if offset < 0 else 'last'}")
    activities.insert(target, activities.pop(index))
    return changed


def set_dependencies(definition: dict[str, Any], name: str, rows: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """The pipeline with ``name`` depending on ``rows`` of (activity, conditions), replacing what it had."""
    changed = copy.deepcopy(definition)
    activity = activities_of(changed)[_index(changed, name)]
    depends = [{"activity": target, "dependencyConditions": list(conditions)} for target, conditions in rows]
    _check_dependencies(changed, name, depends)
    activity["dependsOn"] = depends
    return changed


def _index(definition: dict[str, Any], name: str) -> int:
    try:
        return names_of(definition).index(name)
    except ValueError:
        raise ActivityEditError(f"the pipeline has no activity {name!r} any more") from None


def _check_dependencies(definition: dict[str, Any], name: str, depends: list[dict[str, Any]]) -> None:
    known = set(names_of(definition))
    seen: set[str] = set()
    for dep in depends:
        target, conditions = dep.get("activity"), dep.get("dependencyConditions") or []
        if target == name:
            raise ActivityEditError(f"{name} cannot depend on itself")
        if target not in known:
            raise ActivityEditError(f"there is no activity {target!r} in this pipeline")
        if target in seen:
            raise ActivityEditError(f"{target} is named twice; tick several conditions on one row instead")
        seen.add(str(target))
        if not conditions or any(c not in DEPENDENCY_CONDITIONS for c in conditions):
            raise ActivityEditError(f"pick one or more of {', '.join(DEPENDENCY_CONDITIONS)} for {target}")
    loop = _loop_through(definition, name, [str(d["activity"]) for d in depends])
    if loop:
        raise ActivityEditError(f"that would make a loop: {' -> '.join(loop)}")


def _loop_through(definition: dict[str, Any], name: str, targets: list[str]) -> list[str]:
    """A path back to ``name`` from one of ``targets`` along the others' dependsOn, or [] when there is none."""
    upstream = {
        str(a.get("name")): [str(d.get("activity")) for d in a.get("dependsOn") or [] if isinstance(d, dict)]
        for a in activities_of(definition)
        if a.get("name") != name
    }
    stack, seen = [(t, [name, t]) for t in targets], set()
    while stack:
        node, trail = stack.pop()
        for nxt in upstream.get(node, []):
            if nxt == name:
                return [*trail, name]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return []
