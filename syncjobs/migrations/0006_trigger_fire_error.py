"""A schedule trigger keeps why it last failed to fire, for the Manage page."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0005_monitor_sort_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="trigger",
            name="fire_error",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="trigger",
            name="fire_error_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
