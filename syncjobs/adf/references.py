"""References between definitions, read from and rewritten in their ADF JSON.

A dataset names its linked service (``properties.linkedServiceName``); a pipeline's activities name
datasets (``inputs``, ``outputs``, ``typeProperties.dataset``) and linked services (Script, stored
procedure); a linked service names the Key Vault linked service holding its secrets (``store``); a
trigger names the pipelines it starts. Each reference is an object whose ``referenceName`` holds the
name; one walk finds them, for "used by" and for a rename alike.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from syncjobs.adf.findings import is_expression
from syncjobs.adf.pipelines import activity_references, iter_activities

Holder = tuple[str, dict[str, Any], str]  # (kind referenced, the object holding referenceName, its path)


@dataclass(frozen=True)
class Reference:
    """One reference: the kind and name of the object named, and the JSON path of its ``referenceName``."""

    kind: str
    name: str
    path: str


def references(kind: str, definition: dict[str, Any]) -> list[Reference]:
    """Every reference a definition of ``kind`` makes by a literal name (expressions left out)."""
    found = []
    for target, holder, path in _holders(kind, definition):
        name = holder.get("referenceName")
        if isinstance(name, str) and name.strip() and not is_expression(name):
            found.append(Reference(target, name.strip(), f"{path}.referenceName"))
    return found


def names(reference: Reference, kind: str, name: str) -> bool:
    """Whether ``reference`` names the ``kind`` object ``name`` (ADF names ignore case)."""
    return reference.kind == kind and reference.name.lower() == name.strip().lower()


def rename_references(kind: str, definition: dict[str, Any], target: str, old: str, new: str) -> dict[str, Any]:
    """A copy of ``definition`` (of ``kind``) whose references to the ``target`` object ``old`` name ``new``."""
    renamed = copy.deepcopy(definition)
    for referenced, holder, _ in _holders(kind, renamed):
        name = holder.get("referenceName")
        if referenced == target and isinstance(name, str) and name.strip().lower() == old.strip().lower():
            holder["referenceName"] = new
    return renamed


def _holders(kind: str, definition: dict[str, Any]) -> Iterator[Holder]:
    props = definition.get("properties") if isinstance(definition, dict) else None
    if not isinstance(props, dict):
        return
    if kind == "dataset" and isinstance(props.get("linkedServiceName"), dict):
        yield "linkedService", props["linkedServiceName"], "properties.linkedServiceName"
    elif kind == "linkedService":
        yield from _key_vault_stores(props.get("typeProperties"), "properties.typeProperties")
    elif kind == "pipeline":
        for path, activity in iter_activities(props.get("activities")):
            yield from activity_references(activity, path)
    elif kind == "trigger":
        yield from _pipelines_started(props)


def _key_vault_stores(node: Any, path: str) -> Iterator[Holder]:
    """``{"type": "AzureKeyVaultSecret", "store": {"referenceName": ...}}`` anywhere under ``node``."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _key_vault_stores(item, f"{path}[{i}]")
    elif isinstance(node, dict):
        if node.get("type") == "AzureKeyVaultSecret" and isinstance(node.get("store"), dict):
            yield "linkedService", node["store"], f"{path}.store"
            return
        for key, value in node.items():
            yield from _key_vault_stores(value, f"{path}.{key}")


def _pipelines_started(props: dict[str, Any]) -> Iterator[Holder]:
    """A schedule trigger's ``pipelines[i].pipelineReference``; a tumbling window's ``pipeline.pipelineReference``."""
    entries = props.get("pipelines")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("pipelineReference"), dict):
            yield "pipeline", entry["pipelineReference"], f"properties.pipelines[{i}].pipelineReference"
    single = props.get("pipeline")
    if isinstance(single, dict) and isinstance(single.get("pipelineReference"), dict):
        yield "pipeline", single["pipelineReference"], "properties.pipeline.pipelineReference"
