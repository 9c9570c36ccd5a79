"""Findings: what validation says about a definition, each pointing at a JSON path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"  # saved, but something will not work as written (e.g. a Key Vault reference)
INFO = "info"  # what import translated (legacy form, trimmed names)


@dataclass(frozen=True)
class Finding:
    """One problem or note at a JSON path such as ``properties.typeProperties.location.container``."""

    path: str
    message: str
    severity: str = ERROR
    object: str = ""  # "dataset/SinkDataset" when the finding comes from a batch of objects

    @property
    def is_error(self) -> bool:
        """True for findings that stop a save."""
        return self.severity == ERROR

    def about(self, object_id: str) -> Finding:
        """The same finding, labelled with the object it concerns."""
        return Finding(self.path, self.message, self.severity, object_id)

    def __str__(self) -> str:
        where = f"{self.object}: {self.path}" if self.object else self.path
        return f"{where}: {self.message}"


class DefinitionError(ValueError):
    """A definition cannot be saved; ``findings`` say where and why."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings = [f for f in findings if f.is_error]
        super().__init__("; ".join(str(f) for f in self.findings) or "invalid definition")


def raise_for_errors(findings: Iterable[Finding]) -> list[Finding]:
    """Raise :class:`DefinitionError` if any finding is an error; otherwise return them all."""
    findings = list(findings)
    if any(f.is_error for f in findings):
        raise DefinitionError(findings)
    return findings


@dataclass
class KnownObjects:
    """The objects a definition may reference, by lower-cased name (ADF names ignore case)."""

    linked_services: dict[str, str] = field(default_factory=dict)  # name -> type
    datasets: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (type, linked service)
    pipelines: set[str] = field(default_factory=set)
    dataset_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> its declarations

    def add(self, kind: str, definition: dict[str, Any]) -> None:
        """Make ``definition`` (of ``kind``) known."""
        name = str(definition.get("name", "")).strip().lower()
        props = definition.get("properties")
        props = props if isinstance(props, dict) else {}
        if kind == "linkedService":
            self.linked_services[name] = str(props.get("type", ""))
        elif kind == "dataset":
            ref = props.get("linkedServiceName")
            ref = ref.get("referenceName", "") if isinstance(ref, dict) else ""
            self.datasets[name] = (str(props.get("type", "")), str(ref).strip())
            declared = props.get("parameters")
            self.dataset_parameters[name] = declared if isinstance(declared, dict) else {}
        elif kind == "pipeline":
            self.pipelines.add(name)

    def linked_service_type(self, name: str) -> str | None:
        """The type of the named linked service, or None if unknown."""
        return self.linked_services.get(name.strip().lower())

    def parameters_of(self, dataset: str) -> dict[str, Any] | None:
        """The parameters the named dataset declares, or None when they are not known."""
        return self.dataset_parameters.get(dataset.strip().lower())

    def dataset(self, name: str) -> tuple[str, str] | None:
        """(type, linked service name) of the named dataset, or None if unknown."""
        return self.datasets.get(name.strip().lower())


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a control character (a newline, a tab, NUL...): no name may."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def is_expression(value: Any) -> bool:
    """True for ``"@..."`` strings and ``{"value": "...", "type": "Expression"}`` objects."""
    if isinstance(value, dict):
        return value.get("type") == "Expression" and isinstance(value.get("value"), str)
    return isinstance(value, str) and value.startswith("@") and not value.startswith("@@")


class Checker:
    """Collects findings while walking one definition."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, path: str, message: str, severity: str = ERROR) -> None:
        """Record a finding."""
        self.findings.append(Finding(path, message, severity))

    def obj(self, node: Any, path: str, *, required: bool = True) -> dict[str, Any]:
        """``node`` as an object; records a finding (and returns {}) when missing or not an object."""
        if node is None:
            if required:
                self.add(path, "required")
            return {}
        if not isinstance(node, dict):
            self.add(path, "must be an object")
            return {}
        return node

    def items(self, node: Any, path: str, *, required: bool = False) -> list[Any]:
        """``node`` as a list; records a finding when it is something else."""
        if node is None:
            if required:
                self.add(path, "required")
            return []
        if not isinstance(node, list):
            self.add(path, "must be an array")
            return []
        return node

    def text(self, node: dict[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
        """A non-empty string (or expression) at ``node[key]``; None when absent or an expression."""
        value = node.get(key)
        if is_expression(value):
            return None
        if value is None or value == "":
            if required:
                self.add(f"{path}.{key}", "required")
            return None
        if not isinstance(value, str):
            self.add(f"{path}.{key}", "must be a string")
            return None
        return value

    def integer(
        self,
        node: dict[str, Any],
        key: str,
        path: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        why: str = "",
    ) -> int | None:
        """An optional integer (or expression) at ``node[key]``, within ``minimum``..``maximum``.

        ``why`` follows the bound in the message (e.g. "ADF's limit").
        """
        value = node.get(key)
        if value is None or is_expression(value):
            return None
        text = value.strip() if isinstance(value, str) else ""
        if text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) <= 20:
            value = int(text)
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(f"{path}.{key}", "must be an integer")
            return None
        suffix = f" ({why})" if why else ""
        if minimum is not None and value < minimum:
            self.add(f"{path}.{key}", f"must be at least {minimum}{suffix}")
            return None
        if maximum is not None and value > maximum:
            self.add(f"{path}.{key}", f"must be at most {maximum:,}{suffix}")
            return None
        return value

    def name(self, node: dict[str, Any], key: str, path: str, *, max_length: int = 260) -> str | None:
        """A required name at ``node[key]``: a string, without control characters, at most ``max_length`` long."""
        value = self.text(node, key, path)
        if value is not None:
            self.name_text(value, f"{path}.{key}", max_length=max_length)
        return value

    def name_text(self, value: str, path: str, *, max_length: int = 260) -> None:
        """Findings for a name given as ``value`` (an object key such as a parameter's name)."""
        if has_control_characters(value):
            self.add(path, f"{value[:60]!r}: a name must not contain control characters")
        if len(value) > max_length:
            self.add(path, f"a name must be at most {max_length} characters")

    def choice(
        self, node: dict[str, Any], key: str, path: str, allowed: Iterable[str], *, required: bool = False
    ) -> None:
        """``node[key]`` must be one of ``allowed`` (case-insensitive, as ADF compares), or an expression."""
        value = node.get(key)
        if value is None or is_expression(value):
            if required and value is None:
                self.add(f"{path}.{key}", "required")
            return
        allowed = list(allowed)
        if not isinstance(value, str) or value.lower() not in {a.lower() for a in allowed}:
            self.add(f"{path}.{key}", f"must be one of {', '.join(allowed)} (got {value!r})")
