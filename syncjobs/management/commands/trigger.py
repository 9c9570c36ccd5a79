"""python manage.py trigger NAME [--param k=v ...] [--wait]: Trigger now from the command line."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from syncjobs.access import Role
from syncjobs.engine import jsontext
from syncjobs.management.portal_command import PortalCommand
from syncjobs.models import Pipeline, PipelineRun, RunStatus
from syncjobs.services.runs import trigger_run


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v``; a JSON value (number, true, array, object) is taken as such, anything else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--param {text!r}: write it as name=value")
    try:
        return key, jsontext.loads(value)
    except jsontext.JsonTextError:
        return key, value  # text (NaN, 1e999 and the like stay text; the parameter's type then judges them)


class Command(PortalCommand):
    required_role = Role.OPERATOR
    help = "Trigger a pipeline run; prints its run id, and with --wait its final status (exit 1 unless it succeeded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the pipeline's name")
        parser.add_argument("--param", action="append", default=[], help="a parameter, name=value (repeatable)")
        parser.add_argument("--wait", action="store_true", help="wait until the run ends")
        parser.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        pipeline = Pipeline.objects.filter(name__iexact=options["name"]).first()
        if pipeline is None:
            raise CommandError(f"no pipeline named {options['name']!r}")
        try:
            parameters = dict(parse_param(p) for p in options["param"])
            run = trigger_run(pipeline, parameters, invoked_by_name="manage.py trigger", actor=self.actor)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(str(run.run_id))
        if options["wait"]:
            self._wait(run, options["timeout"])

    def _wait(self, run: PipelineRun, timeout: float) -> None:
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            run.refresh_from_db()
            if not run.is_active:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError(f"run {run.run_id} still {run.status} after {timeout:g} s")
            time.sleep(0.5)
        self.stdout.write(run.status + (f": {run.message}" if run.message else ""))
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.run_id} ended {run.status}")
