# The first response to a create is replayed as the JSON text it was, its fields in their order:
# `jsonb` sorts an object's keys.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dispatchdesk", "0005_work_order_deleted_event"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencykey",
            name="response_body",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
    ]
