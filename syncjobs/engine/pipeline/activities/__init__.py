"""Activity implementations by ADF type name: each is ``run(step: Step) -> output JSON``.

Raise an ``EngineError`` to fail (its reason becomes the error code); call ``step.check()`` or pass
``step.should_stop`` to copies so cancel and timeout take effect between batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncjobs.engine.pipeline.activities.changetracking_copy import run_change_tracking_copy
from syncjobs.engine.pipeline.activities.control import run_if_condition, run_set_variable, run_wait
from syncjobs.engine.pipeline.activities.copy import run_copy
from syncjobs.engine.pipeline.activities.foreach import run_for_each
from syncjobs.engine.pipeline.activities.lookup import run_lookup
from syncjobs.engine.pipeline.activities.script import run_script, run_stored_procedure
from syncjobs.engine.pipeline.step import Step

ACTIVITIES: dict[str, Callable[[Step], dict[str, Any]]] = {
    "Copy": run_copy,
    "Lookup": run_lookup,
    "Script": run_script,
    "SqlServerStoredProcedure": run_stored_procedure,
    "SetVariable": run_set_variable,
    "Wait": run_wait,
    "IfCondition": run_if_condition,
    "ForEach": run_for_each,
    "ChangeTrackingCopy": run_change_tracking_copy,
}
