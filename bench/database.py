"""The database a benchmark runner drops and creates for itself.

Both runners (bench/api/run.py, bench/import/run.py) start by dropping the database their URL
names, so a URL typed for another purpose (the development or production database) would lose
it. They refuse any database whose name does not contain `bench`, before connecting.
"""

import sys

import psycopg
from psycopg import sql


def bench_database_name(url: str) -> str:
    """The name of the database `url` names; exits unless it contains `bench`."""
    name = psycopg.conninfo.conninfo_to_dict(url).get("dbname") or ""
    if "bench" not in name:
        sys.exit(f"Refusing to drop {name!r}: the bench database's name must contain 'bench'.")
    return name


def drop_database(url: str, *, create: bool = False) -> None:
    """Drop the bench database `url` names (and create it again, empty, with `create`)."""
    name = bench_database_name(url)
    server = {**psycopg.conninfo.conninfo_to_dict(url), "dbname": "postgres"}
    with psycopg.connect(**server, autocommit=True) as conn:
        database = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(database))
