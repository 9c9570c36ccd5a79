"""syncjobs URLs."""

from django.urls import path

from syncjobs.views import health

app_name = "syncjobs"
urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
]
