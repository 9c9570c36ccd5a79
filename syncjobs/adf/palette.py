"""The activity palette: each activity type the engine runs, what it needs, and its JSON with sensible defaults.

``needs`` names what the Add-activity form asks for besides the name: ``source`` and ``sink`` datasets
(a copy's ``inputs`` and ``outputs``), a ``dataset`` (a Lookup's), a ``linked_service`` (a Script's or a
stored procedure's). The Copy source and sink types follow from the datasets chosen, so the settings
left to type are only the ones that do not.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

POLICY = {
    "timeout": "0.12:00:00",
    "retry": 0,
    "retryIntervalInSeconds": 30,
    "secureOutput": False,
    "secureInput": False,
}


@dataclass(frozen=True)
class PaletteEntry:
    """One activity type as the palette offers it."""

    type: str
    label: str
    description: str
    needs: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    """Its typeProperties to start from, before the references chosen are filled in."""


def _expression(text: str) -> dict[str, str]:
    return {"value": text, "type": "Expression"}


PALETTE = (
    PaletteEntry("Copy", "Copy data", "Copies a table or query into files.", ("source", "sink")),
    PaletteEntry(
        "ChangeTrackingCopy",
        "Change-tracking copy",
        "Copies only the rows changed since the last run (change tracking); the portal keeps the version.",
        ("source", "sink"),
    ),
    PaletteEntry(
        "Lookup",
        "Lookup",
        "Reads the first row (or all rows) of a dataset or query.",
        ("dataset",),
        {"firstRowOnly": True},
    ),
    PaletteEntry(
        "Script",
        "Script",
        "Runs SQL on a database linked service.",
        ("linked_service",),
        {"scripts": [{"type": "Query", "text": "SELECT 1 AS ok"}]},
    ),
    PaletteEntry(
        "SqlServerStoredProcedure",
        "Stored procedure",
        "Calls a stored procedure with parameters.",
        ("linked_service",),
        {"storedProcedureName": "", "storedProcedureParameters": {}},
    ),
    PaletteEntry("SetVariable", "Set variable", "Sets a pipeline variable.", (), {"variableName": "", "value": ""}),
    PaletteEntry("Wait", "Wait", "Waits a number of seconds.", (), {"waitTimeInSeconds": 1}),
    PaletteEntry(
        "IfCondition",
        "If condition",
        "Runs one branch or the other by an expression.",
        (),
        {"expression": _expression("@equals(1, 1)"), "ifTrueActivities": [], "ifFalseActivities": []},
    ),
    PaletteEntry(
        "ForEach",
        "ForEach",
        "Runs inner activities for each item of an array.",
        (),
        {"items": _expression("@createArray(1, 2)"), "isSequential": True, "activities": []},
    ),
)
BY_TYPE = {entry.type: entry for entry in PALETTE}


def default_name(activity_type: str, taken: list[str]) -> str:
    """``Wait1``, or ``Wait2``... when that name is taken (names compare without case, as in ADF)."""
    lowered = {name.lower() for name in taken}
    number = 1
    while f"{activity_type}{number}".lower() in lowered:
        number += 1
    return f"{activity_type}{number}"


def default_settings(activity_type: str, variables: list[str]) -> dict[str, Any]:
    """The typeProperties the form starts from (a Set variable names the pipeline's first variable)."""
    settings = copy.deepcopy(BY_TYPE[activity_type].settings)
    if activity_type == "SetVariable" and variables:
        settings["variableName"] = variables[0]
    return settings


def dataset_reference(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``DatasetReference`` to ``name``, with the values it passes to the dataset's parameters."""
    reference: dict[str, Any] = {"referenceName": name, "type": "DatasetReference"}
    if parameters:
        reference["parameters"] = parameters
    return reference


def new_activity(
    activity_type: str,
    name: str,
    settings: dict[str, Any],
    *,
    description: str = "",
    source: tuple[str, str, dict[str, Any]] | None = None,
    sink: tuple[str, str, dict[str, Any]] | None = None,
    linked_service: str | None = None,
) -> dict[str, Any]:
    """An activity's JSON: ``source`` is (dataset, its Copy source type, parameter values), ``sink`` likewise."""
    tp = copy.deepcopy(settings)
    activity: dict[str, Any] = {"name": name, "type": activity_type, "dependsOn": [], "policy": dict(POLICY)}
    if description:
        activity["description"] = description
    if source is not None and activity_type == "Lookup":
        tp["dataset"] = dataset_reference(source[0], source[2])
        tp.setdefault("source", {}).setdefault("type", source[1])
    elif source is not None and sink is not None:
        activity["inputs"] = [dataset_reference(source[0], source[2])]
        activity["outputs"] = [dataset_reference(sink[0], sink[2])]
        if activity_type == "Copy":
            tp.setdefault("source", {}).setdefault("type", source[1])
        tp.setdefault("sink", {}).setdefault("type", sink[1])
    if linked_service:
        activity["linkedServiceName"] = {"referenceName": linked_service, "type": "LinkedServiceReference"}
    activity["typeProperties"] = tp
    return activity
