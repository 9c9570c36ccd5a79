"""Named seams for the fault suite: points no real fault can hit on purpose (the gap between two statements).

``CTPORTAL_FAULT_POINT=<name>`` in a worker's environment makes the worker SIGKILL its whole process
group (the qcluster and its workers, as ``kill -9`` of qcluster does) when it reaches that point; unset
(always, outside the fault suite), a seam does nothing.
"""

from __future__ import annotations

import os
import signal

FAULT_POINT_VARIABLE = "CTPORTAL_FAULT_POINT"
PARTS_COMMITTED = "parts_committed"  # every part of a window committed, its manifest not yet written
MANIFEST_WRITTEN = "manifest_written"  # the manifest written, the watermark not yet advanced
POINTS = (PARTS_COMMITTED, MANIFEST_WRITTEN)


def fault_point(name: str) -> None:
    """Die here, as ``kill -9`` of the worker would, when the fault suite named this point."""
    if os.environ.get(FAULT_POINT_VARIABLE) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
