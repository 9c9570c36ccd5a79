"""The audit log gains the "rename" action (objects renamed from the browser, references followed)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0009_secure_parameter_values"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("create", "Create"),
                    ("change", "Change"),
                    ("rename", "Rename"),
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
    ]
