"""Liveness: the web process answers and reaches its database."""

from django.db import connection
from django.http import HttpRequest, JsonResponse

from syncjobs.access import public


@public
def healthz(request: HttpRequest) -> JsonResponse:
    """Return ok when the portal's database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
