"""The copy engine stays plain Python: no Django, nothing from the app outside engine/."""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "syncjobs" / "engine"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_engine_module_imports_django_or_the_app():
    offenders = {}
    for path in sorted(ENGINE.rglob("*.py")):
        bad = {
            name
            for name in imported_modules(path)
            if name == "django"
            or name.startswith("django.")
            or (name.startswith("syncjobs") and not name.startswith("syncjobs.engine"))
        }
        if bad:
            offenders[str(path.relative_to(ENGINE))] = sorted(bad)
    assert offenders == {}


def test_the_boundary_check_sees_the_engine_modules():
    modules = {p.name for p in ENGINE.rglob("*.py")}
    assert {"changetracking.py", "types.py", "errors.py"} <= modules
