"""One tick over 200 tables with one and with two ``qcluster`` workers (issue 14's figure).

    .venv/bin/python bench/tables_workers.py [--tables 200] [--rows 1000]

The set-up a team uses when one machine is not enough: the portal on PostgreSQL, workers on Redis
(127.0.0.1:6379), the tables added in one Add tables submission and run on a schedule. It is the
scenario of ``tests/scale/test_two_workers.py`` (which also checks that every table ends current and
that the broken one shows *Failing*); this script runs it at the sizes given and prints its figures:
the wall time of a changed tick on one worker, on two, and their ratio (the baseline is the one-worker
tick of the same run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1000, help="rows per table, all changed each tick")
    args = parser.parse_args()
    env = {
        **os.environ,
        "CTPORTAL_SCALE_TABLES": str(args.tables),
        "CTPORTAL_SCALE_ROWS": str(args.rows),
        "CTPORTAL_SCALE_CHANGED_TABLES": str(args.tables),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/scale/test_two_workers.py"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "runs at scale" in line), None)
    if done.returncode != 0 or start is None:
        sys.stderr.write(done.stdout[-5000:] + done.stderr[-3000:])
        sys.exit(1)
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        print(line)


if __name__ == "__main__":
    main()
