"""python manage.py verify_sync LINKED_SERVICE TABLE SINK_DATASET: prove the sink holds what the source holds."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.engine.errors import EngineError
from syncjobs.engine.verification import VerifyReport
from syncjobs.management.portal_command import PortalCommand
from syncjobs.services.verification import verify_sync


class Command(PortalCommand):
    required_role = Role.EDITOR  # as the API route: a report's examples show key values
    help = (
        "Replay a table's change windows in a sink dataset (the newest full window, then its deltas: I and U "
        "upsert, D deletes) and compare with the source read in one snapshot, leaving out keys changed after the "
        "last window. Prints rows missing, stale and extra and changes delivered twice; exit 1 unless exact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("linked_service", help="the source linked service's name")
        parser.add_argument("table", help="the table, optionally schema-qualified")
        parser.add_argument("sink_dataset", help="the file dataset the ChangeTrackingCopy writes to")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = verify_sync(options["linked_service"], options["table"], options["sink_dataset"])
        except EngineError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            for line in report_lines(report):
                self.stdout.write(line)
        if not report.exact:
            raise CommandError(f"{report.table}: the sink does not match the source")


def report_lines(report: VerifyReport) -> list[str]:
    """The report for people."""
    lines = [
        f"{report.table}: generation {report.generation}, {report.windows} window(s) up to version {report.to_version}",
        f"source rows {report.source_rows}, sink rows {report.sink_rows} "
        f"({report.keys_left_out} key(s) changed after version {report.to_version} left out)",
        f"rows missing {report.rows_missing}, rows stale {report.rows_stale}, rows extra {report.rows_extra}, "
        f"changes delivered twice {report.duplicate_deliveries}, bad files {report.files_bad}, "
        f"chain breaks {report.chain_breaks}",
        *report.problems,
        "exact" if report.exact else "NOT exact",
    ]
    return lines
