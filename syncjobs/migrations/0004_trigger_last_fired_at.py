"""Schedule triggers remember when they last fired."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0003_secure_parameters"),
    ]

    operations = [
        migrations.AddField(
            model_name="trigger",
            name="last_fired_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
