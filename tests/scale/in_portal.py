"""Inside a portal (its environment), one Django start for many calls; each prints one line of JSON.

    python tests/scale/in_portal.py add SOURCE SINK NAME TABLE [TABLE ...]   # one Add tables submission
    python tests/scale/in_portal.py verify LINKED_SERVICE SINK_DATASET TABLE [TABLE ...]
    python tests/scale/in_portal.py tables STATUS   # /api/tables and /tables/ filtered by status, as an Admin
    python tests/scale/in_portal.py trigger PIPELINE [PIPELINE ...]   # Trigger now on each; the run ids

(``manage.py verify_sync`` per table would cost a Django start each.)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")

import django  # noqa: E402

django.setup()


def add(source: str, sink: str, name: str, *tables: str) -> dict[str, Any]:
    """What the wizard's Create does: ``add_tables`` over every table, every minute, CSV under ``lake/``."""
    from syncjobs.services.table_setup import add_tables

    added = add_tables(
        source=source,
        tables=list(tables),
        sink=sink,
        folder="lake/{table}",
        format="csv",
        schedule={"frequency": "Minute", "interval": 1},
        name=name,
        start=False,
    )
    return {"pipelines": added.pipelines, "trigger": added.trigger, "datasets": added.datasets}


def verify(linked_service: str, dataset: str, *tables: str) -> dict[str, Any]:
    from syncjobs.services.verification import verify_sync

    reports = {}
    for table in tables:
        report = verify_sync(linked_service, table, dataset).as_dict()
        reports[table] = {k: report[k] for k in ("exact", "rows_missing", "rows_stale", "rows_extra", "to_version")}
    return reports


def tables(status: str) -> dict[str, Any]:
    """The API's tables with ``status`` and the Tables page's rows, read through the portal's own views."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.filter(is_superuser=True).first()
    if user is None:
        user = get_user_model().objects.create_superuser("scale-admin", "", None)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    api = client.get("/api/tables", {"status": status, "top": 1000})
    page = client.get("/tables/", {"status": status})
    return {"api_status": api.status_code, "api": api.json().get("value"), "page": page.content.decode()}


def trigger(*pipelines: str) -> list[str]:
    from syncjobs.models import Pipeline
    from syncjobs.services.runs import trigger_run

    return [str(trigger_run(Pipeline.objects.get(name=name)).run_id) for name in pipelines]


COMMANDS = {"add": add, "verify": verify, "tables": tables, "trigger": trigger}

if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    sys.stdout.write(json.dumps(COMMANDS[command](*arguments), default=str) + "\n")
