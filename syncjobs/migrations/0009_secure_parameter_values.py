"""SecureString parameter values move out of the JSON into ``encrypted_secrets``: pipelines' default
values, and the values triggers pass to the pipelines they start."""

from typing import Any

from django.db import migrations, models

from syncjobs.adf.secure_parameters import mask_parameter_defaults, mask_trigger_parameters, secure_parameter_names
from syncjobs.secrets import encrypt_mapping


def encrypt_secure_values(apps: Any, schema_editor: Any) -> None:
    pipelines = apps.get_model("syncjobs", "Pipeline")
    declared = {row.name.lower(): secure_parameter_names(row.definition) for row in pipelines.objects.all()}
    for row in pipelines.objects.all():
        _move(row, mask_parameter_defaults(row.definition, {}))
    for row in apps.get_model("syncjobs", "Trigger").objects.all():
        _move(row, mask_trigger_parameters(row.definition, {}, lambda name: declared.get(name.strip().lower(), set())))


def _move(row: Any, split: tuple) -> None:
    masked, secrets, _ = split
    if secrets:
        row.definition, row.encrypted_secrets = masked, encrypt_mapping(secrets)
        row.save(update_fields=["definition", "encrypted_secrets"])


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0008_secret_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipeline",
            name="encrypted_secrets",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="trigger",
            name="encrypted_secrets",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(encrypt_secure_values, migrations.RunPython.noop),
    ]
