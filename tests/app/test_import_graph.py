"""The portal's modules import downwards only: no circle among them, and ADF JSON (``syncjobs.adf``)
below the models and services that use it. Read from the source with ``ast``, imports inside
functions included (a lazy import that dodges a circle is still one)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "syncjobs"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the portal but its migrations (which run apart, each against its own history)."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The portal's modules that ``path`` imports: ``from syncjobs.api import runs`` is ``syncjobs.api.runs``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            )
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(path, set(found)) - {name} for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_circle_among_the_portals_modules():
    assert cycles(import_graph()) == []


def test_adf_json_sits_below_the_models_and_services():
    graph = import_graph()
    upward = {
        name: sorted(m for m in imported if m.startswith(("syncjobs.models", "syncjobs.services")))
        for name, imported in graph.items()
        if name.startswith("syncjobs.adf")
    }
    assert {name: found for name, found in upward.items() if found} == {}


def test_the_checks_see_a_circle_and_an_upward_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "syncjobs.services.definitions" in graph["syncjobs.api.definitions"]  # `from ... import` read
    assert "syncjobs.api.runs" in graph["syncjobs.api.routes"]  # `from syncjobs.api import runs` read
    assert len(graph) > 100
