"""Emails are stored in Unicode's compatibility form (NFKC) from now on, as logins look them up:
an address stored otherwise (`kim@ｅxample.com`, fullwidth `e`) is rewritten. One whose folded
form another account already has is left as it is (that account keeps the address)."""

import unicodedata

from django.db import migrations


def fold(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    taken = set(User.objects.values_list("email", flat=True))
    for pk, email in User.objects.values_list("pk", "email").order_by("pk"):
        folded = unicodedata.normalize("NFKC", email).lower()
        if folded != email and folded not in taken:
            User.objects.filter(pk=pk).update(email=folded)
            taken.add(folded)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_sessions_ended_at"),
    ]

    operations = [migrations.RunPython(fold, migrations.RunPython.noop, elidable=True)]
