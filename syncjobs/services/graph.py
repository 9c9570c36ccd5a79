"""A pipeline's activities laid out as a left-to-right graph, edges labelled with their conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 48, 70, 26, 16


@dataclass
class Node:
    name: str
    type: str
    x: int
    y: int
    inner: list[str] = field(default_factory=list)  # nested activities (ForEach, IfCondition)


@dataclass
class Edge:
    path: str
    condition: str
    css: str
    label_x: int
    label_y: int


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_w: int = NODE_W
    node_h: int = NODE_H


def layout(activities: list[dict[str, Any]]) -> Graph:
    """Columns by longest dependency path; one row per activity within its column."""
    by_name = {str(a.get("name")): a for a in activities}
    depth: dict[str, int] = {}

    def depth_of(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in depth:
            return depth[name]
        deps = [str(d.get("activity")) for d in by_name[name].get("dependsOn") or [] if d.get("activity") in by_name]
        value = 0 if not deps or name in seen else 1 + max(depth_of(d, seen | {name}) for d in deps)
        depth[name] = value
        return value

    columns: dict[int, list[str]] = {}
    for name in by_name:
        columns.setdefault(depth_of(name), []).append(name)
    nodes: dict[str, Node] = {}
    for column, names in columns.items():
        for row, name in enumerate(names):
            activity = by_name[name]
            tp = activity.get("typeProperties") or {}
            inner = [
                str(a.get("name"))
                for key in ("activities", "ifTrueActivities", "ifFalseActivities")
                for a in tp.get(key) or []
            ]
            x, y = PAD + column * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y)
            nodes[name] = Node(name, str(activity.get("type")), x, y, inner)
    edges = []
    for name, activity in by_name.items():
        for dep in activity.get("dependsOn") or []:
            source = nodes.get(str(dep.get("activity")))
            if source is None:
                continue
            target = nodes[name]
            x1, y1 = source.x + NODE_W, source.y + NODE_H // 2
            x2, y2 = target.x, target.y + NODE_H // 2
            middle = (x1 + x2) // 2
            conditions = dep.get("dependencyConditions") or ["Succeeded"]
            path = f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"
            edges.append(Edge(path, ", ".join(conditions), str(conditions[0]), middle, (y1 + y2) // 2 - 4))
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X)
    height = PAD * 2 + max((len(n) for n in columns.values()), default=1) * (NODE_H + GAP_Y)
    return Graph(list(nodes.values()), edges, width, height)
