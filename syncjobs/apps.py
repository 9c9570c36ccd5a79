"""The syncjobs app: linked services, datasets, pipelines, runs, and the copy engine under engine/."""

from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    default_auto_field = "django.db.models.BigAutoField"
