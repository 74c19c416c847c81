"""Team names unique in any letter case, held by the database: the API, the admin and imports
checked it already, but two requests that check at the same moment could both pass."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_default_team'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='team',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('name'), name='team_name_unique_in_any_case', violation_error_message='A team with this name already exists.'),
        ),
    ]
