"""Django's `migrate`, one at a time on PostgreSQL.

Replicas starting together on a new database (the container entrypoint migrates at every start)
would each find the same migrations to apply and apply them together: the second fails on a table
the first has just made. Each takes a PostgreSQL advisory lock first, so that the others wait and
then find nothing left to do. Other databases (SQLite in development) migrate as Django does.
"""

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DatabaseError, connections

# The advisory lock's key: any number, the same in every process of this project.
MIGRATION_LOCK = 4_170_219_305


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return super().handle(*args, **options)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        try:
            return super().handle(*args, **options)
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
            except DatabaseError:
                pass  # the connection is gone, and the lock with it
