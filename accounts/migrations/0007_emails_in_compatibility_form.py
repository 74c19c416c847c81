"""Emails are stored in Unicode's compatibility form (NFKC) from now on, as logins look them up:
an address stored otherwise (`kim@ｅxample.com`, fullwidth `e`) is rewritten. One whose folded
form another account already has, or that folded is no longer a valid address of at most 254
characters, is left as it is."""

import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import migrations


def valid(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return len(email) <= 254


def fold(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    taken = set(User.objects.values_list("email", flat=True))
    for pk, email in User.objects.values_list("pk", "email").order_by("pk"):
        folded = unicodedata.normalize("NFKC", email).lower()
        if folded != email and folded not in taken and valid(folded):
            User.objects.filter(pk=pk).update(email=folded)
            taken.add(folded)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_sessions_ended_at"),
    ]

    operations = [migrations.RunPython(fold, migrations.RunPython.noop, elidable=True)]
