"""The fault suite's fixtures, and its tally printed at the end of the session."""

from __future__ import annotations

import pytest

from tests.faults.harness import TALLY, FaultPortal


@pytest.fixture
def faults(tmp_path, pg_database, azurite, blob_container):
    """A fresh portal, source database and container for one fault scenario."""
    bench = FaultPortal(tmp_path, pg_database, azurite, blob_container)
    yield bench
    bench.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The tally: per fault, runs, rows lost, stale and extra, duplicate deliveries, runs left unfinished, and
    files in the sink no manifest names."""
    if not TALLY:
        return
    header = (
        "fault",
        "runs",
        "rows lost",
        "rows stale",
        "rows extra",
        "duplicate deliveries",
        "runs unfinished",
        "stray files",
    )
    rows = [header] + [
        (r.fault, str(r.runs), str(r.rows_lost), str(r.rows_stale), str(r.rows_extra), str(r.duplicates),
         str(r.unfinished), str(r.stray_files))
        for r in TALLY
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    terminalreporter.section("fault suite tally (checked by verify_sync)")
    for row in rows:
        terminalreporter.write_line("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
