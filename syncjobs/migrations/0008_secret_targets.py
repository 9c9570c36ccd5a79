"""Bind the secrets already stored to the target they were entered for (where each linked service points now).

From here on a masked secret is given back only while a linked service still points there; the target
is kept with the secrets, encrypted, so that editing the JSON alone (admin, database) cannot move them.
Secrets that no configured key decrypts are left as they are.
"""

from typing import Any

from django.db import migrations

from syncjobs.adf.masking import TARGET_ID, secret_target
from syncjobs.secrets import SecretUnreadableError, decrypt_mapping, encrypt_mapping


def bind_stored_secrets(apps: Any, schema_editor: Any) -> None:
    linked_services = apps.get_model("syncjobs", "LinkedService")
    for row in linked_services.objects.exclude(encrypted_secrets=""):
        try:
            stored = decrypt_mapping(row.encrypted_secrets)
        except SecretUnreadableError:
            continue
        if TARGET_ID not in stored:
            row.encrypted_secrets = encrypt_mapping({**stored, TARGET_ID: secret_target(row.definition)})
            row.save(update_fields=["encrypted_secrets"])


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0007_roles_and_audit_log"),
    ]

    operations = [migrations.RunPython(bind_stored_secrets, migrations.RunPython.noop)]
