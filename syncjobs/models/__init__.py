"""syncjobs models: factory definitions, runs, watermarks, API tokens, the audit log and alerts."""

from syncjobs.models.alerts import AlertChannel, AlertRule, Delivery, EvaluationPass, Event, Incident
from syncjobs.models.api_tokens import ApiToken
from syncjobs.models.audit import AuditEntry
from syncjobs.models.definitions import Dataset, Definition, LinkedService, Pipeline, Trigger, known_objects
from syncjobs.models.pipeline_runs import ActivityRun, ActivityStatus, PipelineRun, RunStatus
from syncjobs.models.schema_changes import SchemaChange
from syncjobs.models.synced_tables import RunCursor, SyncedTable, TableBinding, TableStatus
from syncjobs.models.watermarks import Watermark, WatermarkConflictError, WatermarkWindow

__all__ = [
    "AlertChannel",
    "AlertRule",
    "Delivery",
    "EvaluationPass",
    "Event",
    "Incident",
    "ActivityRun",
    "ActivityStatus",
    "ApiToken",
    "AuditEntry",
    "Dataset",
    "Definition",
    "LinkedService",
    "Pipeline",
    "PipelineRun",
    "RunCursor",
    "RunStatus",
    "SchemaChange",
    "SyncedTable",
    "TableBinding",
    "TableStatus",
    "Trigger",
    "Watermark",
    "WatermarkConflictError",
    "WatermarkWindow",
    "known_objects",
]
