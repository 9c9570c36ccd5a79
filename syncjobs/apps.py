"""The syncjobs app: linked services, datasets, pipelines, runs, and the copy engine under engine/."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from syncjobs.services.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
