"""A run's output files: a preview of the first rows, and the file itself, streamed (Editor and Admin).

The file is named by its activity run and its number in that activity's output, never by a path;
``services.run_files`` resolves it through the activity's sink (see there for the confinement).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header

from syncjobs.access import requires
from syncjobs.models import ActivityRun
from syncjobs.services import run_files
from syncjobs.services.run_files import READ_DATA_ROLE, RunFileError


def _file(run_id: str, activity_run_id: str, index: int) -> run_files.RunFile:
    activity = get_object_or_404(ActivityRun.objects.select_related("pipeline_run"), pk=activity_run_id)
    if str(activity.pipeline_run_id) != str(run_id):
        raise Http404("this activity run belongs to another run")
    try:
        return run_files.run_file(activity, index)
    except RunFileError as exc:
        raise Http404(str(exc)) from None


@requires(GET=READ_DATA_ROLE)
def preview(request: HttpRequest, run_id: str, activity_run_id: str, index: int) -> HttpResponse:
    """The first rows of one output file, with its download link."""
    item = _file(run_id, activity_run_id, index)
    try:
        shown = run_files.preview(item)
    except RunFileError as exc:
        raise Http404(str(exc)) from None
    context = {"item": item, "preview": shown, "run": item.activity.pipeline_run, "rows": run_files.PREVIEW_ROWS}
    return render(request, "monitor/file.html", context)


@requires(GET=READ_DATA_ROLE)
def download(request: HttpRequest, run_id: str, activity_run_id: str, index: int) -> StreamingHttpResponse:
    """The file's bytes, streamed from the sink chunk by chunk."""
    item = _file(run_id, activity_run_id, index)
    try:
        chunks = run_files.stream(item)
    except RunFileError as exc:
        raise Http404(str(exc)) from None
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    # quotes and backslashes escaped, anything else (newlines, non-ASCII) percent-encoded as filename*=
    response["Content-Disposition"] = content_disposition_header(True, item.name) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response
