"""Pipeline runs: trigger, execute on the worker, cancel, rerun, and recover runs whose worker died."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from syncjobs.access import SYSTEM, Actor
from syncjobs.engine.errors import TerminalError
from syncjobs.engine.pipeline.host import RunInfo
from syncjobs.engine.pipeline.parameters import bind_parameters
from syncjobs.engine.pipeline.runner import run_pipeline
from syncjobs.models import ActivityRun, ActivityStatus, AuditEntry, Pipeline, PipelineRun, RunStatus, Watermark
from syncjobs.secrets import MASK, decrypt_mapping, encrypt_mapping
from syncjobs.services import audit
from syncjobs.services.run_host import DjangoRunHost

logger = logging.getLogger(__name__)


def trigger_run(
    pipeline: Pipeline,
    parameters: dict[str, Any] | None = None,
    *,
    invoked_by_type: str = "Manual",
    invoked_by_name: str = "Manual",
    actor: Actor = SYSTEM,
) -> PipelineRun:
    """Queue a run of ``pipeline`` with its definition frozen now; raises ValidationError on bad parameters.

    A manual run is named after the user who triggered it and noted in the audit log (with the names
    of its parameters, never their values); a schedule trigger's runs are in the run history only.
    """
    given = dict(parameters or {})
    declared = pipeline.properties.get("parameters") or {}
    try:
        bind_parameters(declared, given)
    except TerminalError as exc:
        raise ValidationError(exc.message) from None
    shown, secret = _split_secure(declared, given)
    given_names = {k.lower() for k in given}  # SecureString defaults are not in the frozen JSON: the run carries them
    secret.update({k: v for k, v in pipeline.secret_defaults().items() if k.lower() not in given_names})
    with transaction.atomic():
        run = PipelineRun.objects.create(
            pipeline=pipeline,
            pipeline_name=pipeline.name,
            parameters=shown,
            secret_parameters=encrypt_mapping(secret) if secret else "",
            definition=pipeline.snapshot(),
            invoked_by_type=invoked_by_type,
            invoked_by_name=actor.name if actor.user_id else invoked_by_name,
        )
        if invoked_by_type == "Manual":
            names = sorted(given)
            audit.record(
                actor, AuditEntry.Action.TRIGGER, "pipeline", pipeline.name, runId=str(run.run_id), parameters=names
            )
    _enqueue(run)
    return run


def _split_secure(declared: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """SecureString parameters leave the run record: masked there, encrypted apart."""
    secure = {k.lower() for k, spec in declared.items() if str((spec or {}).get("type", "")).lower() == "securestring"}
    shown = {k: (MASK if k.lower() in secure else v) for k, v in given.items()}
    return shown, {k: str(v) for k, v in given.items() if k.lower() in secure}


def _enqueue(run: PipelineRun) -> None:
    """Hand the run to a worker once it is committed; inline (tests, CTPORTAL_TASKS_INLINE), run it here."""
    if settings.CTPORTAL_TASKS_INLINE:
        async_task("syncjobs.tasks.run_pipeline_task", str(run.run_id), sync=True)
        return
    transaction.on_commit(
        lambda: async_task("syncjobs.tasks.run_pipeline_task", str(run.run_id), task_name=f"run-{run.run_id}")
    )


def execute_run(run_id: str) -> None:
    """The worker's task: run a queued run to its end, never leaving it InProgress."""
    recover_stalled_runs()
    run = PipelineRun.objects.get(pk=run_id)
    if not run.mark_in_progress(worker=f"{socket.gethostname()}:{os.getpid()}"):
        return  # cancelled before it started, or taken by another worker
    host = DjangoRunHost(run)
    try:
        outcome = run_pipeline(run.definition, _run_info(run), host)
    except Exception as exc:  # the runner's own bug: the run fails, the worker lives on
        logger.exception("run %s failed inside the runner", run_id)
        run.fail(f"internal error: {type(exc).__name__}: {exc}")
        return
    if outcome.status == RunStatus.SUCCEEDED:
        run.succeed(handled_errors=outcome.handled_errors)
    elif outcome.status == RunStatus.CANCELLED:
        run.mark_cancelled()
    else:
        run.fail(outcome.message)


def _run_info(run: PipelineRun) -> RunInfo:
    earlier = run.parent_run if run.start_from_failure else None
    return RunInfo(
        run_id=str(run.run_id),
        pipeline_name=run.pipeline_name,
        trigger_time=run.triggered_at,
        trigger_type=run.invoked_by_type,
        trigger_name=run.invoked_by_name,
        trigger_id=run.invoked_by_id,
        group_id=str(run.run_group_id),
        parameters={**run.parameters, **(decrypt_mapping(run.secret_parameters) if run.secret_parameters else {})},
        reuse_outputs=earlier.reusable_outputs() if earlier else {},
        retry_items=earlier.failed_items() if earlier else {},
    )


def cancel_run(run: PipelineRun, *, actor: Actor = SYSTEM) -> bool:
    """Cancel: a queued run at once, a running one between batches. False when it already ended."""
    requested = run.request_cancel()
    if requested:
        audit.record(actor, AuditEntry.Action.CANCEL, "pipeline", run.pipeline_name, runId=str(run.run_id))
    return requested


def rerun(run: PipelineRun, *, from_failed: bool = False, actor: Actor = SYSTEM) -> PipelineRun:
    """A new run in the same group, with the same parameters and the same frozen definition."""
    with transaction.atomic():
        new = PipelineRun.objects.create(
            pipeline=run.pipeline,
            pipeline_name=run.pipeline_name,
            parent_run=run,
            run_group_id=run.run_group_id,
            parameters=dict(run.parameters),
            secret_parameters=run.secret_parameters,
            definition=run.definition,
            invoked_by_type="Manual",
            invoked_by_name="Rerun from failed activity" if from_failed else "Rerun",
            start_from_failure=from_failed,
        )
        PipelineRun.objects.filter(run_group_id=run.run_group_id).exclude(pk=new.pk).update(is_latest=False)
        audit.record(
            actor,
            AuditEntry.Action.RERUN,
            "pipeline",
            run.pipeline_name,
            runId=str(new.run_id),
            rerunOf=str(run.run_id),
            fromFailed=from_failed,
        )
    _enqueue(new)
    return new


def recover_stalled_runs() -> int:
    """Fail runs whose worker is gone (its process died here, or, elsewhere, no heartbeat for
    CTPORTAL_STALLED_RUN_SECONDS); fail their open activity runs, free their watermarks; return how many."""
    silent_for = timedelta(seconds=settings.CTPORTAL_STALLED_RUN_SECONDS)
    here = socket.gethostname()
    recovered = 0
    for run in PipelineRun.objects.filter(status__in=(RunStatus.IN_PROGRESS, RunStatus.CANCELING)):
        if _worker_gone(run, here, silent_for) and run.fail(
            "worker stopped (killed or crashed) while running; rerun it"
        ):
            _fail_open_activities(run)
            Watermark.objects.filter(claimed_by=run).update(claimed_by=None, claimed_at=None)
            recovered += 1
    return recovered


def _worker_gone(run: PipelineRun, here: str, silent_for: timedelta) -> bool:
    """A worker on this machine is gone when its process is; one elsewhere when its heartbeat went silent.

    A live process here is never judged by its heartbeat: one long SQL statement may keep it quiet for
    minutes (django-q2's task timeout ends a hung worker, and then its process is gone)."""
    host, _, pid = run.worker.rpartition(":")
    if host == here and pid.isdigit():
        # Past the task timeout django-q2 has killed the worker anyway; this also covers a reused pid.
        outlived = timedelta(seconds=settings.Q_CLUSTER["timeout"])
        return not _alive(int(pid)) or _silent(run, outlived)
    return _silent(run, silent_for)


def _silent(run: PipelineRun, longer_than: timedelta) -> bool:
    return run.heartbeat_at is None or run.heartbeat_at < timezone.now() - longer_than


def _fail_open_activities(run: PipelineRun) -> None:
    for activity in ActivityRun.objects.filter(pipeline_run=run, status=ActivityStatus.IN_PROGRESS):
        activity.fail("the worker stopped while this activity ran", error_code="WorkerLost", failure_type="SystemError")


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs here (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True
