"""syncjobs models: factory definitions, runs, watermarks and API tokens."""

from syncjobs.models.api_tokens import ApiToken
from syncjobs.models.definitions import Dataset, Definition, LinkedService, Pipeline, Trigger, known_objects
from syncjobs.models.pipeline_runs import ActivityRun, ActivityStatus, PipelineRun, RunStatus
from syncjobs.models.watermarks import Watermark, WatermarkConflictError, WatermarkWindow

__all__ = [
    "ActivityRun",
    "ActivityStatus",
    "ApiToken",
    "Dataset",
    "Definition",
    "LinkedService",
    "Pipeline",
    "PipelineRun",
    "RunStatus",
    "Trigger",
    "Watermark",
    "WatermarkConflictError",
    "WatermarkWindow",
    "known_objects",
]
