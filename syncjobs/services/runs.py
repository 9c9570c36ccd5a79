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
from syncjobs.services.broker import waiting_task_names
from syncjobs.services.run_host import DjangoRunHost, Heartbeat

logger = logging.getLogger(__name__)


def trigger_run(
    pipeline: Pipeline,
    parameters: dict[str, Any] | None = None,
    *,
    invoked_by_type: str = "Manual",
    invoked_by_name: str = "Manual",
    actor: Actor = SYSTEM,
    tables: list[str] | None = None,
) -> PipelineRun:
    """Queue a run of ``pipeline`` with its definition frozen now; raises ValidationError on bad parameters.

    ``tables`` ("schema.table"): its ChangeTrackingCopy activities copy only those (None: every table).

    A manual run is named after the user who triggered it and noted in the audit log (with the names
    of its parameters, never their values); a schedule trigger's runs are in the run history only.
    """
    given = dict(parameters or {})
    table_filter = _table_filter(tables)
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
            table_filter=table_filter,
        )
        if invoked_by_type == "Manual":
            names = sorted(given)
            audit.record(
                actor, AuditEntry.Action.TRIGGER, "pipeline", pipeline.name, runId=str(run.run_id), parameters=names
            )
    _enqueue(run)
    return run


def _table_filter(tables: list[str] | None) -> list[str] | None:
    """``tables`` as stored (trimmed, unique, in order); ValidationError on anything but names."""
    if tables is None:
        return None
    if not isinstance(tables, list) or not all(isinstance(t, str) and t.strip() for t in tables):
        raise ValidationError('tables must be a list of table names such as "dbo.orders"')
    return list(dict.fromkeys(t.strip() for t in tables))


def _split_secure(declared: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """SecureString parameters leave the run record: masked there, encrypted apart."""
    secure = {k.lower() for k, spec in declared.items() if str((spec or {}).get("type", "")).lower() == "securestring"}
    shown = {k: (MASK if k.lower() in secure else v) for k, v in given.items()}
    return shown, {k: str(v) for k, v in given.items() if k.lower() in secure}


def _enqueue(run: PipelineRun, *, requeue: bool = False) -> None:
    """Hand the run to a worker once it is committed; inline (tests, CTPORTAL_TASKS_INLINE), run it here."""
    if settings.CTPORTAL_TASKS_INLINE:
        async_task("syncjobs.tasks.run_pipeline_task", str(run.run_id), sync=True)
        return

    def hand_over() -> None:
        run.mark_enqueued(requeue=requeue)
        async_task("syncjobs.tasks.run_pipeline_task", str(run.run_id), task_name=task_name(run))

    transaction.on_commit(hand_over)


def task_name(run: PipelineRun) -> str:
    """The django-q2 task name of a run (recovery looks for it in the broker)."""
    return f"run-{run.run_id}"


def execute_run(run_id: str) -> None:
    """The worker's task: run a queued run to its end, never leaving it InProgress."""
    recover_stalled_runs()
    run = PipelineRun.objects.get(pk=run_id)
    if not run.mark_in_progress(worker=f"{socket.gethostname()}:{os.getpid()}"):
        return  # cancelled before it started, or taken by another worker
    beat = Heartbeat(run, settings.CTPORTAL_HEARTBEAT_SECONDS, threaded=not settings.CTPORTAL_TASKS_INLINE)
    try:
        with beat:
            outcome = run_pipeline(run.definition, _run_info(run), DjangoRunHost(run, beat))
    except Exception as exc:  # the runner's own bug, or a worker judged dead: the run fails, the worker lives on
        if beat.lost:
            logger.warning("run %s was taken from this worker (judged dead); it stopped: %s", run_id, exc)
            return
        logger.exception("run %s failed inside the runner", run_id)
        run.fail(f"internal error: {type(exc).__name__}: {exc}")
        return
    failed_tables = list(outcome.failed_tables)
    if outcome.status == RunStatus.SUCCEEDED:
        run.succeed(handled_errors=outcome.handled_errors, failed_tables=failed_tables, message=outcome.message)
    elif outcome.status == RunStatus.CANCELLED:
        run.mark_cancelled()
    else:
        run.fail(outcome.message, failed_tables=failed_tables)


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
        table_filter=tuple(run.table_filter) if run.table_filter is not None else None,
        activity_concurrency=settings.CTPORTAL_WORKER_ACTIVITY_CONCURRENCY,
        table_concurrency=settings.CTPORTAL_WORKER_TABLE_CONCURRENCY,
    )


def cancel_run(run: PipelineRun, *, actor: Actor = SYSTEM) -> bool:
    """Cancel: a queued run at once, a running one between batches. False when it already ended."""
    requested = run.request_cancel()
    if requested:
        audit.record(actor, AuditEntry.Action.CANCEL, "pipeline", run.pipeline_name, runId=str(run.run_id))
    return requested


def rerun(
    run: PipelineRun, *, from_failed: bool = False, actor: Actor = SYSTEM, failed_tables_only: bool = False
) -> PipelineRun:
    """A new run in the same group, with the same parameters and the same frozen definition.

    ``failed_tables_only`` ("Retry failed tables"): only the tables that failed in ``run`` are copied;
    ValidationError when none did.
    """
    if failed_tables_only and not run.failed_tables:
        raise ValidationError(f"run {run.run_id} has no failed tables to retry")
    table_filter = list(run.failed_tables) if failed_tables_only else run.table_filter
    name = "Retry failed tables" if failed_tables_only else "Rerun from failed activity" if from_failed else "Rerun"
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
            invoked_by_name=name,
            start_from_failure=from_failed and not failed_tables_only,
            table_filter=table_filter,
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
            failedTablesOnly=failed_tables_only,
        )
    _enqueue(new)
    return new


def recover_stalled_runs() -> int:
    """End the runs whose worker is gone, and hand lost queued runs to the broker again; return how many.

    A running run is failed when its worker's process died here, or when its heartbeat (beaten from a
    background thread, so a long statement never silences it) is older than CTPORTAL_STALLED_RUN_SECONDS:
    the worker died, hangs, or is frozen; if it ever wakes up, everything it writes is refused. Its open
    activity runs fail and its watermark claims are released; the message says which windows were left
    pending (the next run finishes them). Queued runs whose task is no longer in the broker are handed
    over again, or failed once they waited CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS.
    """
    silent_for = timedelta(seconds=settings.CTPORTAL_STALLED_RUN_SECONDS)
    here = socket.gethostname()
    stalled = set(PipelineRun.objects.stalled(silent_for).values_list("pk", flat=True))
    recovered = 0
    for run in PipelineRun.objects.in_progress():
        if (run.pk in stalled or _process_gone(run, here)) and run.fail(_stopped_message(run)):
            _fail_open_activities(run)
            Watermark.objects.filter(claimed_by=run).update(claimed_by=None, claimed_at=None)
            recovered += 1
    return recovered + recover_queued_runs()


def _stopped_message(run: PipelineRun) -> str:
    """Why the run failed, and what it left: the windows it was writing (recorded, so nothing is lost)."""
    pending = [
        f"{watermark.table} {watermark.pending_summary}"
        for watermark in Watermark.objects.filter(claimed_by=run).exclude(pending=None)
    ]
    left = f"; left pending, finished by the next run: {'; '.join(pending)}" if pending else ""
    return f"worker stopped (killed, crashed or frozen past {settings.CTPORTAL_STALLED_RUN_SECONDS} s){left}"


def recover_queued_runs() -> int:
    """Queued runs whose task left the broker without starting them: hand them over again (or fail them
    after CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS); return how many."""
    if settings.CTPORTAL_TASKS_INLINE:
        return 0
    now = timezone.now()
    waiting_runs = list(
        PipelineRun.objects.waiting_since(now - timedelta(seconds=settings.CTPORTAL_QUEUED_RUN_SECONDS))
    )
    if not waiting_runs:
        return 0
    in_broker = waiting_task_names()
    if in_broker is None:
        return 0
    recovered = 0
    for run in waiting_runs:
        if task_name(run) in in_broker:
            continue  # still waiting its turn
        if run.triggered_at < now - timedelta(seconds=settings.CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS):
            recovered += run.fail(
                f"no worker started this run within {settings.CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS} s of its trigger"
            )
            continue
        logger.warning("run %s: its task left the broker without starting it; handing it over again", run.pk)
        _enqueue(run, requeue=True)
        recovered += 1
    return recovered


def _process_gone(run: PipelineRun, here: str) -> bool:
    """A worker on this machine whose process died (a silent heartbeat is ``PipelineRun.objects.stalled``'s
    rule, for workers anywhere: it comes from a background thread, so only a dead, hung or frozen worker
    goes silent, never one inside a long SQL statement)."""
    host, _, pid = run.worker.rpartition(":")
    return host == here and pid.isdigit() and not _alive(int(pid))


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
