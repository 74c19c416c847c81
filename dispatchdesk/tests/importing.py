"""Running the import and export commands in tests, and writing their files."""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError


@dataclass
class Outcome:
    ok: bool  # False when the command failed (CommandError: exit status 1)
    out: str
    errors: list[str]  # the lines on standard error
    failure: str = ""  # the CommandError message


def run(command: str, *args) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        return Outcome(False, out.getvalue(), err.getvalue().splitlines(), str(exc))
    return Outcome(True, out.getvalue(), err.getvalue().splitlines())


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_json(path: Path, items) -> Path:
    path.write_text(json.dumps(items), encoding="utf-8")
    return path
