"""A run's outcome is stored with it: ``PipelineRun.handled_errors``, the runner's verdict, which the
monitor used to recompute from the activity runs (reading an activity that failed once and succeeded on
retry as a handled error). ``ActivityRun.linked_service_name``, never written, goes: an activity run's
``linkedServiceName`` is read from the run's frozen definition.

Runs finished before this have no verdict stored; for each succeeded run one is read from its activity
runs as the runner decides it: an attempt that failed and was not followed by another attempt of the same
activity (``retry_attempt`` one higher) is a failure the pipeline handled.
"""

from typing import Any

from django.db import migrations, models


def store_handled_errors(apps: Any, schema_editor: Any) -> None:
    activity_runs = apps.get_model("syncjobs", "ActivityRun")
    succeeded = activity_runs.objects.filter(pipeline_run__status="Succeeded")
    candidates = set(succeeded.filter(status="Failed").values_list("pipeline_run_id", flat=True))
    handled = [run_id for run_id in candidates if _handled(succeeded.filter(pipeline_run_id=run_id))]
    for start in range(0, len(handled), 500):
        chunk = handled[start : start + 500]
        apps.get_model("syncjobs", "PipelineRun").objects.filter(pk__in=chunk).update(handled_errors=True)


def _handled(attempts: Any) -> bool:
    rows = list(attempts.values_list("activity_name", "status", "retry_attempt"))
    tried = {(name, attempt) for name, _, attempt in rows}
    return any(status == "Failed" and (name, attempt + 1) not in tried for name, status, attempt in rows)


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0010_audit_rename"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="activityrun",
            name="linked_service_name",
        ),
        migrations.AddField(
            model_name="pipelinerun",
            name="handled_errors",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(store_handled_errors, migrations.RunPython.noop),
    ]
