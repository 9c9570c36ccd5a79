"""Default values of SecureString pipeline parameters move out of the JSON into ``encrypted_secrets``."""

from typing import Any

from django.db import migrations, models

from syncjobs.adf.masking import mask_parameter_defaults
from syncjobs.secrets import encrypt_mapping


def encrypt_secure_defaults(apps: Any, schema_editor: Any) -> None:
    pipelines = apps.get_model("syncjobs", "Pipeline")
    for row in pipelines.objects.all():
        masked, secrets, _ = mask_parameter_defaults(row.definition, {})
        if secrets:
            row.definition, row.encrypted_secrets = masked, encrypt_mapping(secrets)
            row.save(update_fields=["definition", "encrypted_secrets"])


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0006_secret_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="pipeline",
            name="encrypted_secrets",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(encrypt_secure_defaults, migrations.RunPython.noop),
    ]
