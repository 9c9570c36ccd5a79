"""Inside a portal (its environment): verify_sync every table named on the command line; prints JSON.

    python tests/scale/verify_tables.py LINKED_SERVICE SINK_DATASET TABLE [TABLE ...]

One Django start for all of them (``manage.py verify_sync`` per table would cost a start each).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")

import django  # noqa: E402

django.setup()

from syncjobs.services.verification import verify_sync  # noqa: E402


def main() -> None:
    linked_service, dataset, *tables = sys.argv[1:]
    reports = {}
    for table in tables:
        report = verify_sync(linked_service, table, dataset).as_dict()
        reports[table] = {
            key: report[key] for key in ("exact", "rows_missing", "rows_stale", "rows_extra", "to_version")
        }
    sys.stdout.write(json.dumps(reports) + "\n")


if __name__ == "__main__":
    main()
