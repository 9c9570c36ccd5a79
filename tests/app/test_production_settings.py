"""The README's production settings pass `manage.py check --deploy` with nothing to report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_production_exports() -> list[str]:
    """The ``export`` lines of the README's Production code block, as the README gives them."""
    section = (ROOT / "README.md").read_text().split("## Production\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    exports = [line for line in block.splitlines() if line.startswith("export ")]
    assert any("CTPORTAL_HTTPS=true" in line for line in exports), exports
    return exports


def test_check_deploy_reports_nothing_with_the_documented_production_settings(tmp_path):
    script = "\n".join(
        [
            *readme_production_exports(),
            f"export CTPORTAL_DATA_DIR={tmp_path}",  # keeps the run's folders out of the repository
            f"exec {sys.executable} manage.py check --deploy",
        ]
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CTPORTAL_", "DJANGO_"))}
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in done.stderr and "ERROR" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["static"]  # the keys came from the environment
