"""Roles and the audit log.

Roles are groups named Viewer, Operator and Editor; a superuser is an Admin. Existing users keep what
they could do: staff ("may edit, trigger, cancel") become Editors, other non-superusers Viewers.
``is_staff`` then means Admin only (Django admin's sign-in), so it is cleared for everyone else.
"""

from typing import Any

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

ROLE_GROUPS = ("Viewer", "Operator", "Editor")


def _models(apps: Any) -> tuple[Any, Any]:
    return apps.get_model("auth", "Group"), apps.get_model(*settings.AUTH_USER_MODEL.split("."))


def give_roles(apps: Any, schema_editor: Any) -> None:
    group_model, user_model = _models(apps)
    groups = {name: group_model.objects.get_or_create(name=name)[0] for name in ROLE_GROUPS}
    for user in user_model.objects.filter(is_superuser=False):
        user.groups.add(groups["Editor" if user.is_staff else "Viewer"])
    user_model.objects.filter(is_superuser=False, is_staff=True).update(is_staff=False)
    user_model.objects.filter(is_superuser=True).update(is_staff=True)


def take_roles_back(apps: Any, schema_editor: Any) -> None:
    group_model, user_model = _models(apps)
    user_model.objects.filter(groups__name__in=("Operator", "Editor")).update(is_staff=True)
    group_model.objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0006_trigger_fire_error"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(give_roles, take_roles_back),
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("actor", models.CharField(max_length=200)),
                ("role", models.CharField(max_length=20)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("create", "Create"),
                            ("change", "Change"),
                            ("delete", "Delete"),
                            ("trigger", "Trigger"),
                            ("rerun", "Rerun"),
                            ("cancel", "Cancel"),
                            ("start", "Start"),
                            ("stop", "Stop"),
                            ("set_role", "Set Role"),
                            ("activate", "Activate"),
                            ("deactivate", "Deactivate"),
                            ("set_password", "Set Password"),
                            ("issue_token", "Issue Token"),
                            ("revoke_token", "Revoke Token"),
                            ("enable_change_tracking", "Enable Change Tracking"),
                            ("disable_change_tracking", "Disable Change Tracking"),
                        ],
                        max_length=30,
                    ),
                ),
                ("object_kind", models.CharField(max_length=40)),
                ("object_name", models.CharField(max_length=400)),
                ("detail", models.JSONField(blank=True, default=dict)),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="audit_entries",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "audit entries",
                "ordering": ["-at", "-pk"],
            },
        ),
    ]
