"""SecureString parameter values written in definitions: a pipeline's defaults, the values a trigger passes.

Both are split out of the JSON behind ADF's mask and stored encrypted, as linked-service secrets are
(``masking.py``); a value equal to the mask keeps the stored one. A run gets them from the pipeline
and the trigger (``Pipeline.secret_defaults``, ``Trigger.pipeline_parameters``), never from its JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from syncjobs.adf.findings import Finding
from syncjobs.adf.masking import SecretTaker

Split = tuple[dict[str, Any], dict[str, str], list[Finding]]


def is_secure(spec: Any) -> bool:
    """True for a parameter declared ``{"type": "SecureString", ...}``."""
    return isinstance(spec, dict) and str(spec.get("type", "")).lower() == "securestring"


def secure_parameter_names(pipeline_definition: dict[str, Any]) -> set[str]:
    """The pipeline's SecureString parameters, lower-cased (ADF names ignore case)."""
    declared = (pipeline_definition.get("properties") or {}).get("parameters")
    return {name.lower() for name, spec in (declared or {}).items() if is_secure(spec)}


def mask_parameter_defaults(definition: dict[str, Any], stored: dict[str, str]) -> Split:
    """A pipeline's SecureString defaults out: ids ``properties.parameters.<name>.defaultValue``."""
    masked = copy.deepcopy(definition)
    take = SecretTaker(stored)
    declared = (masked.get("properties") or {}).get("parameters")
    for name, spec in declared.items() if isinstance(declared, dict) else ():
        if is_secure(spec) and "defaultValue" in spec:
            spec["defaultValue"] = take(f"properties.parameters.{name}.defaultValue", spec["defaultValue"])
    return masked, take.secrets, take.findings


def mask_trigger_parameters(
    definition: dict[str, Any], stored: dict[str, str], secure_names: Callable[[str], set[str]]
) -> Split:
    """The values a trigger passes to SecureString parameters out: ids ``properties.pipelines[i].parameters.<name>``.

    ``secure_names(pipeline name)`` gives the pipeline's SecureString parameters (lower-cased).
    """
    masked = copy.deepcopy(definition)
    take = SecretTaker(stored)
    entries = (masked.get("properties") or {}).get("pipelines")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("parameters"), dict):
            continue
        secure = secure_names(str((entry.get("pipelineReference") or {}).get("referenceName", "")))
        for name, value in entry["parameters"].items():
            if name.lower() in secure:
                entry["parameters"][name] = take(trigger_parameter_id(index, name), value)
    return masked, take.secrets, take.findings


def trigger_parameter_id(index: int, name: str) -> str:
    """Where a trigger's value for a pipeline parameter sits in its JSON."""
    return f"properties.pipelines[{index}].parameters.{name}"
