"""Bulk import and export: the machinery every kind of row shares.

An import reads a CSV or JSON file into `Row`s that know their place in the file, checks each
cell's type (`Text`, `Choice`, `DateTime`, ...), and hands the rows in batches to an `Importer`,
which looks up what a batch refers to with a few queries and turns every row into a `Change`
(or into errors). `run_import` drives the batches inside transactions, writes them with bulk
operations (PostgreSQL: COPY), and returns a `Report`. `ImportCommand` and `ExportCommand` are
the bases of the thin `import_*` / `export_*` management commands in each app.

The rules of each kind of row live with their app: accounts/imports.py, tickets/imports.py,
workorders/imports.py.
"""

import argparse
import codecs
import contextlib
import csv
import gc
import io
import json
import operator
import os
import queue
import re
import stat
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.types.json import Jsonb

from .datetimes import OUT_OF_RANGE, has_a_date
from .lookups import where_in
from .models import Event

FORMATS = ("csv", "json")
DEFAULT_BATCH_SIZE = 2000
MAX_BATCH_SIZE = 10_000  # a batch's lookups stay within the databases' limits on parameters
WRITER_SWITCH_INTERVAL = 0.0002  # seconds; see checked_ahead()
REQUIRED = "This field is required."
# A spreadsheet runs a cell that starts with one of =+-@, tab or CR as a formula (CSV
# injection: a ticket titled `=HYPERLINK(...)` would be a link in whoever opens the export).
# CSV exports put an apostrophe before such a cell, which spreadsheets show as plain text, and
# CSV imports take one off again. Apostrophes already in front count too, so that every value
# comes back as it was: `'=x` is written `''=x`.
FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def csv_cell(value: str) -> str:
    """A value as an export writes it into a CSV cell."""
    return f"'{value}" if FORMULA_START.match(value) else value


def csv_text(value) -> str:
    return "" if value is None else csv_cell(str(value))


def csv_value(cell: str) -> str:
    """A CSV cell's value: what `csv_cell` wrote, back as it was."""
    return cell[1:] if cell.startswith("'") and FORMULA_START.match(cell, 1) else cell


class FileProblem(Exception):
    """The file as a whole cannot be imported: one line says why."""


CHANGED_MEANWHILE = "changed by someone else since the import read them"


class ChangedMeanwhile(Exception):
    """Rows an import would update were changed by someone else after it read them: writing
    its values (read before) would undo that change, or break a rule it checked."""

    def __init__(self, wheres: list[str], what: str = CHANGED_MEANWHILE):
        shown = ", ".join(wheres[:5]) + (
            f" and {len(wheres) - 5:,} more" if len(wheres) > 5 else ""
        )
        super().__init__(f"{shown}: {what}")


class Invalid(ValueError):
    """A value that breaks a rule; the message is what the user sees."""


# Reading files


@dataclass(slots=True)
class Row:
    """One record of the file: where it starts ("line 7"; "line 1, item 3" when several items
    of a JSON list start on one line), its cells by column, and its place among the records."""

    where: str
    values: dict[str, Any]
    errors: list[tuple[str, str]] = field(default_factory=list)
    number: int = 0


def detect_format(name: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise FileProblem(f"{name}: cannot tell the format from the name; use --format csv or json.")


def output_format(name: str, fmt: str | None) -> str:
    """An export's format: `--format`, else the output's extension, else (a name without one,
    such as /dev/null or a pipe) CSV. An extension that names neither is refused."""
    return detect_format(name, fmt) if Path(name).suffix else fmt or "csv"


def read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise FileProblem(f"{path}: is a directory, not a file.") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be read ({exc.strerror}).") from None


def decode(source: bytes, name: str) -> str:
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # The codec counts its position after the BOM it skips; lines end as an editor ends
        # them (CRLF, CR or LF).
        at = exc.start + (len(codecs.BOM_UTF8) if source.startswith(codecs.BOM_UTF8) else 0)
        line = len(LINE_BREAK.findall(source[:at].decode("latin-1"))) + 1  # a byte a character
        raise FileProblem(
            f"{name}: not UTF-8 text (line {line} has the byte 0x{source[at]:02x}); "
            "save it as UTF-8."
        ) from None
    if not text.strip():
        raise FileProblem(f"{name}: the file is empty.")
    return text


def check_columns(
    name: str, found: list[str], columns: Iterable[str], key: str, what: str = "header"
) -> None:
    """The header (JSON: the keys of the objects) names known columns, once each, and the key."""
    expected = list(columns)
    unknown = [column for column in found if column not in expected]
    repeated = sorted({column for column in found if found.count(column) > 1})
    problems = []
    if unknown:
        names = ", ".join(column or '""' for column in unknown)
        problems.append(f"unknown column{'s' * (len(unknown) > 1)} {names}")
    if repeated:
        problems.append(f"repeated column{'s' * (len(repeated) > 1)} {', '.join(repeated)}")
    if key not in found:
        problems.append(f"no {key} column")
    if problems:
        raise FileProblem(
            f"{name}: wrong {what}: {'; '.join(problems)}. The columns are: {', '.join(expected)}."
        )


def read_rows(
    source: bytes, name: str, fmt: str, columns: Iterable[str], key: str, lists=frozenset()
) -> list[Row]:
    """Parse a whole file; raises FileProblem for a file that cannot be read as rows at all."""
    text = decode(source, name)
    if fmt == "json":
        return read_json(text, name, columns, key, lists)
    return read_csv(text, name, columns, key)


# A cell may be as long as any value the API takes (a description has no limit of its own): the
# csv module's default of 128 KiB would make a file that an export wrote unreadable. The whole
# file is in memory already, so a larger cell costs nothing more.
csv.field_size_limit(2**31 - 1)


def read_csv(text: str, name: str, columns: Iterable[str], key: str) -> list[Row]:
    # Lines are counted as an editor does: the header is line 1, and a row whose quoted cells
    # span several lines is reported at the line where it starts.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    last = 0  # the line that ends the record read last
    try:
        header = [column.strip() for column in next(reader)]
        check_columns(name, header, columns, key)
        width, last = len(header), reader.line_num
        for cells in reader:
            where, last = f"line {last + 1}", reader.line_num
            if not "".join(cells).strip():
                continue  # a blank line, or a spreadsheet's empty row
            # Cells are stripped, and empty ones dropped, when the rows are checked.
            values = dict(zip(header, map(csv_value, cells), strict=False))
            row = Row(where, values, number=len(rows))
            if len(cells) != width:
                row.errors.append(("row", f"Expected {width} values, found {len(cells)}."))
            rows.append(row)
    except csv.Error as exc:
        if str(exc) == "unexpected end of data":  # the file ended inside a quoted cell
            problem = "the row that starts here has a quote never closed"
            raise FileProblem(f"{name}: line {last + 1}: not valid CSV ({problem}).") from None
        raise FileProblem(f"{name}: line {reader.line_num}: not valid CSV ({exc}).") from None
    return rows


LINE_BREAK = re.compile(r"\r\n|\r|\n")
JSON_SPACE = re.compile(r"[ \t\n\r]*")


class NotJSON(Exception):
    """What Python's parser takes and an import does not: NaN and Infinity (not JSON; they
    would become text), and a key twice in one object (one value would silently win, where a
    CSV file with a column twice is refused)."""


def not_json(constant: str):
    raise NotJSON(f"{constant} is not JSON")


def object_of(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    item = dict(pairs)
    if len(item) != len(pairs):
        twice = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise NotJSON(f'the key "{twice}" twice in one object')
    return item


# A number is read as written (`1.10`, `1e400`), as a CSV cell is: values are text.
JSON_DECODER = json.JSONDecoder(
    parse_float=str, parse_constant=not_json, object_pairs_hook=object_of
)


def json_items(text: str) -> list[tuple[int, Any]] | None:
    """Each item of the JSON list `text` with the line (as an editor counts them) where it
    starts, read in one pass; None when `text` is not a list (the whole decoder says why)."""
    space = JSON_SPACE.match

    def at(position: int) -> str:
        return text[position : position + 1]

    position = space(text).end()
    if at(position) != "[":
        return None
    position = space(text, position + 1).end()
    items: list[tuple[int, Any]] = []
    line, counted = 1, 0
    if at(position) != "]":
        while True:
            line += len(LINE_BREAK.findall(text, counted, position))
            counted = position
            item, end = JSON_DECODER.raw_decode(text, position)
            items.append((line, item))
            position = space(text, end).end()
            if at(position) != ",":
                break
            position = space(text, position + 1).end()
        if at(position) != "]":
            return None
    return items if space(text, position + 1).end() == len(text) else None


def read_json(
    text: str, name: str, columns: Iterable[str], key: str, lists=frozenset()
) -> list[Row]:
    try:
        items = json_items(text)
        if items is None:
            JSON_DECODER.decode(text)  # says what is wrong, or reads a value that is no list
    except json.JSONDecodeError as exc:
        raise FileProblem(
            f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    except NotJSON as exc:
        raise FileProblem(f"{name}: not valid JSON ({exc}).") from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise FileProblem(f"{name}: not valid JSON (a number of over 4,300 digits).") from None
    except RecursionError:
        raise FileProblem(f"{name}: not valid JSON (nested too deeply).") from None
    if items is None:
        raise FileProblem(f"{name}: expected a JSON list of objects.")
    keys = list(dict.fromkeys(k for _, item in items if isinstance(item, dict) for k in item))
    if keys:
        check_columns(name, keys, columns, key, what="keys")
    shared = {line for line, count in Counter(line for line, _ in items).items() if count > 1}
    rows = []
    for number, (line, item) in enumerate(items):
        where = f"line {line}, item {number + 1}" if line in shared else f"line {line}"
        row = Row(where, {}, number=number)
        if not isinstance(item, dict):
            row.errors.append(("row", "Expected an object."))
        else:
            for column, value in item.items():
                if column in lists and isinstance(value, list):
                    if not all(isinstance(part, str) for part in value):
                        row.errors.append((column, "Expected a list of names."))
                        continue
                    value = ";".join(value)
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    row.errors.append((column, "Not a valid string."))
                    continue
                value = str(value).strip()
                surrogate = SURROGATES.search(value)
                if surrogate:
                    code = f"U+{ord(surrogate.group()):X}"
                    row.errors.append((column, f"Surrogate characters are not allowed: {code}."))
                elif value:
                    row.values[column] = value
        rows.append(row)
    return rows


# Types of cells: callables that turn the text of a cell into a value or raise Invalid.
# The messages are the API's (Django REST framework's) where there is one.

# A UTF-8 file cannot hold surrogates, but JSON's \ud800 escapes can: read_json refuses them.
SURROGATES = re.compile("[\ud800-\udfff]")


class Text:
    def __init__(self, max_length: int | None = None):
        self.max_length = max_length

    @classmethod
    def of(cls, model: type[models.Model], name: str) -> "Text":
        """The same length limit as the model field."""
        return cls(model._meta.get_field(name).max_length)

    def __call__(self, value: str) -> str:
        if self.max_length is not None and len(value) > self.max_length:
            raise Invalid(f"Ensure this field has no more than {self.max_length} characters.")
        if "\x00" in value:
            raise Invalid("Null characters are not allowed.")
        return value


class Choice:
    def __init__(self, choices: type[models.TextChoices]):
        self.values = frozenset(choices.values)

    def __call__(self, value: str) -> str:
        if value not in self.values:
            raise Invalid(f'"{value}" is not a valid choice.')
        return value


NO_DATE = "none"  # a due date's cell: there is none (an empty cell takes the default)


class DateTime:
    """ISO 8601; a time without an offset is in the configured time zone. With `none`, that
    word means "no time" (None)."""

    message = (
        "Datetime has wrong format. Use one of these formats instead: "
        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
    )

    def __init__(self, none: str | None = None):
        self.none = none

    def __call__(self, value: str) -> datetime | None:
        if self.none is not None and value.lower() == self.none:
            return None
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise Invalid(self.message)
        if moment.tzinfo is None:
            moment = timezone.make_aware(moment)
        # A moment with no date in UTC, where it is stored, or in DJANGO_TIME_ZONE, where it is
        # shown (near year 1 or 9999), could be written but not read back (the API refuses it).
        if not has_a_date(moment):
            raise Invalid(OUT_OF_RANGE)
        return moment


WHOLE_DECIMALS = re.compile(r"\.0*\s*$")  # DRF's IntegerField drops them too


class Integer:
    def __init__(self, min_value: int | None = None, max_value: int | None = None):
        self.min_value, self.max_value = min_value, max_value

    def __call__(self, value: str) -> int:
        try:
            number = int(WHOLE_DECIMALS.sub("", value))  # `60.0` is 60, as the API reads it
        except ValueError:
            raise Invalid("A valid integer is required.") from None
        if self.min_value is not None and number < self.min_value:
            raise Invalid(f"Ensure this value is greater than or equal to {self.min_value}.")
        if self.max_value is not None and number > self.max_value:
            raise Invalid(f"Ensure this value is less than or equal to {self.max_value}.")
        return number


class Email:
    """A valid address, lower-cased as logins are. Files repeat addresses: each is checked once."""

    def __init__(self):
        self.checked: dict[str, str | Invalid] = {}

    def __call__(self, value: str) -> str:
        result = self.checked.get(value)
        if result is None:
            if len(self.checked) > 100_000:
                self.checked.clear()
            result = self.checked[value] = self.check(value)
        if isinstance(result, Invalid):
            raise result
        return result

    @staticmethod
    def check(value: str) -> str | Invalid:
        # Folded as logins look it up first: folding may lengthen it, or make it no address.
        value = get_user_model().objects.normalize_email(value)
        if len(value) > 254:
            return Invalid("Ensure this field has no more than 254 characters.")
        try:
            validate_email(value)
        except ValidationError:
            return Invalid("Enter a valid email address.")
        return value


NAMES_NOTHING = "It names nothing: an empty cell leaves the field as it is."


class Names:
    """Names separated by `;` in CSV (a list of strings in JSON); empty parts are ignored, but a
    cell of separators alone names nothing: a bad cell, not a list that takes everything away
    (an empty cell is what leaves the field as it is)."""

    def __init__(self, max_length: int | None = None):
        self.text = Text(max_length)

    def __call__(self, value: str) -> tuple[str, ...]:
        names = [self.text(part.strip()) for part in value.split(";")]
        found = tuple(dict.fromkeys(name for name in names if name))
        if not found:
            raise Invalid(NAMES_NOTHING)
        return found


# Importers


@dataclass(slots=True)
class Change:
    """What an import does to one row: create it (`pk` None) or update it.

    `values` maps model attribute names to the values the row has after the import: every
    field to write for a new row; for an update, the row's tracked fields with `diff` (the real
    changes, `{"attname": [old, new]}`) applied.
    """

    where: str
    values: dict[str, Any]
    pk: int | None = None
    diff: dict[str, list] = field(default_factory=dict)
    # The row's `Importer.version_field` as it was read: a write checks it is still so.
    version: Any = None


@dataclass
class Plan:
    """The outcome of checking one batch."""

    creates: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    unchanged: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    failed_rows: int = 0
    rows: int = 0
    # When the batch was checked: the time of its rows' stamps (updated_at) and events. Any
    # change made before is in what was checked; one made after stops the write (ChangedMeanwhile).
    at: datetime | None = None

    def fail(self, row: Row) -> None:
        self.failed_rows += 1
        self.failures.extend((row.where, column, message) for column, message in row.errors)


class Importer:
    """The rules of one kind of row.

    Subclasses declare `model`, the `columns` (column name -> type), the `key` column that
    matches rows to existing objects, and implement `lookup` (a few queries for a whole batch)
    and `clean` (pure Python: one row to a Change, None when nothing changes, or errors).
    The default `write` inserts and updates `model` rows and adds the `events` of the changes.
    """

    model: ClassVar[type[models.Model]]
    noun: ClassVar[str] = "rows"
    columns: ClassVar[dict[str, Callable[[str], Any]]]
    key: ClassVar[str] = "external_ref"
    list_columns: ClassVar[frozenset[str]] = frozenset()
    # Fields written on every update besides the changed ones (e.g. updated_at).
    stamps: ClassVar[tuple[str, ...]] = ()
    # A field every change of a row moves (updated_at): rows to update are locked when written
    # and must still have the value read when they were checked (`Change.version`).
    version_field: ClassVar[str | None] = None

    @classmethod
    def read(cls, source: bytes, name: str, fmt: str) -> list[Row]:
        """Every row of a file of this kind; FileProblem when it cannot be read as rows."""
        return read_rows(source, name, fmt, cls.columns, cls.key, cls.list_columns)

    def __init__(self, *, by=None):
        self.by = by
        self.now = timezone.now()  # taken again as each batch is checked (Plan.at)
        self.seen: dict[Any, tuple[int, str]] = {}

    def parse(self, row: Row) -> dict[str, Any]:
        """Typed values of the given (non-empty) cells; type errors go to `row.errors`."""
        given, columns = {}, self.columns
        for column, text in row.values.items():
            text = text.strip()
            if not text:
                continue
            try:
                given[column] = columns[column](text)
            except Invalid as exc:
                row.errors.append((column, str(exc)))
        key = given.get(self.key)
        if key is None:
            if not any(column in (self.key, "row") for column, _ in row.errors):
                row.errors.append((self.key, REQUIRED))
        else:
            # By the row's number: two items on one line of a JSON file have the same `where`.
            first_number, first_where = self.seen.setdefault(key, (row.number, row.where))
            if first_number != row.number:
                row.errors.append((self.key, f"Duplicate of {first_where}."))
        return given

    def prepare(self, batch: list[Row]) -> Plan:
        """Check a batch: types first, then (for the rows that pass) references and rules."""
        self.now = timezone.now()
        plan = Plan(rows=len(batch), at=self.now)
        parsed = []
        for row in batch:
            given = self.parse(row)
            if not row.errors:
                parsed.append((row, given))
        if parsed:
            self.lookup([given for _, given in parsed])
        for row, given in parsed:
            change = self.clean(given, row.errors, where=row.where)
            if row.errors:
                continue
            if change is None:
                plan.unchanged += 1
            elif change.pk is None:
                plan.creates.append(change)
            else:
                plan.updates.append(change)
        for row in batch:  # in file order
            if row.errors:
                plan.fail(row)
        return plan

    def lookup(self, batch: list[dict[str, Any]]) -> None:
        """Fetch what the batch's rows refer to (existing objects, people, teams)."""

    def lock_ahead(self, rows: list[Row]) -> None:
        """Before an all-or-nothing run writes anything (its batches share one transaction),
        lock the rows its writes would otherwise lock after earlier batches' rows, against the
        order the API locks them in. Nothing by default."""

    def given_values(self, rows: list[Row], column: str) -> set:
        """The values that the valid, non-empty cells of `column` give."""
        parse, found = self.columns[column], set()
        for row in rows:
            text = row.values.get(column, "").strip()
            if text:
                with contextlib.suppress(Invalid):  # the row's check reports it
                    found.add(parse(text))
        return found

    def clean(self, given: dict[str, Any], errors: list, *, where: str) -> Change | None:
        raise NotImplementedError

    def write(self, plan: Plan) -> None:
        ids = insert_rows(self.model, [change.values for change in plan.creates])
        for change, pk in zip(plan.creates, ids, strict=True):
            change.pk = pk
        if plan.updates:
            self.ensure_unchanged_since_read(plan.updates)
            written = sorted({name for change in plan.updates for name in change.diff})
            written += [name for name in self.stamps if name not in written]
            update_rows(self.model, [change.values for change in plan.updates], written)
        insert_rows(Event, self.events(plan), with_ids=False)

    def events(self, plan: Plan) -> list[dict[str, Any]]:
        """Rows of history events for the plan's changes (after `write` gave new rows ids)."""
        return []

    def ensure_unchanged_since_read(self, updates: list[Change]) -> None:
        """Lock the rows to update until the import's transaction ends, and raise
        ChangedMeanwhile when any was changed after the batch was checked."""
        if self.version_field is None:
            return
        rows = where_in(self.model.objects.select_for_update(), "pk", [c.pk for c in updates])
        now = dict(rows.order_by("pk").values_list("pk", self.version_field))
        stale = [change.where for change in updates if now.get(change.pk) != change.version]
        if stale:
            raise ChangedMeanwhile(stale)


def diff(current: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """`{"name": [old, new]}` for the values of `after` that differ from `current`."""
    return {name: [current[name], value] for name, value in after.items() if current[name] != value}


def history_name(model: type[models.Model], attname: str) -> str:
    """`team_id` -> `team`: history names fields as the API does."""
    return model._meta.get_field(attname).name


def batched(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# Writing: PostgreSQL COPY; any other database (SQLite) through Django's bulk operations.

NEXTVAL_SQL = (
    "SELECT nextval(s.seq) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) AS s, "
    "generate_series(1, %s)"
)


def uses_copy() -> bool:
    return connection.vendor == "postgresql"


def ensure_in_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Bulk writes run inside the import's transaction.")


@contextmanager
def copy_into(cursor, model: type[models.Model], names: list[str], table: str | None = None):
    """A binary COPY of the fields `names` of `model` into its table (or `table`); yields a
    function that writes one row dict. (Django lists COPY with the queries it records.)"""
    fields = [model._meta.get_field(name) for name in names]
    table = table or connection.ops.quote_name(model._meta.db_table)
    # psycopg's own errors, as Django's (IntegrityError...): what the import command reports.
    with (
        connection.wrap_database_errors,
        cursor.copy(f"COPY {table} ({quoted(fields)}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types([column_type(f) for f in fields])
        yield row_writer(copy, fields)


def column_type(field: models.Field) -> str:
    """The column's PostgreSQL type name without modifiers: `varchar(200)` -> `varchar`."""
    return field.db_type(connection).split("(")[0]


def quoted(fields: list[models.Field]) -> str:
    return ", ".join(connection.ops.quote_name(f.column) for f in fields)


def row_writer(copy, fields: list[models.Field]) -> Callable[[dict], None]:
    values = operator.itemgetter(*(f.attname for f in fields))
    if len(fields) == 1:
        return lambda row: copy.write_row((values(row),))
    json_at = [(i, f.encoder) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    if not json_at:
        return lambda row: copy.write_row(values(row))
    dumps = {i: json.JSONEncoder().encode if e is None else e().encode for i, e in json_at}

    def write(row: dict) -> None:
        cells = list(values(row))
        for i, encode in dumps.items():
            cells[i] = Jsonb(cells[i], dumps=encode)
        copy.write_row(cells)

    return write


def insert_rows(
    model: type[models.Model], rows: list[dict[str, Any]], *, with_ids: bool = True
) -> list[int]:
    """Insert rows (dicts of attribute name -> value, all with the same keys).

    With `with_ids`, each row dict gets its new primary key, and the keys are returned.
    """
    if not rows:
        return []
    ensure_in_transaction()
    pk = model._meta.pk.attname
    if not uses_copy():
        objs = model.objects.bulk_create([model(**row) for row in rows])
        for row, obj in zip(rows, objs, strict=True):
            row[pk] = obj.pk
        return [obj.pk for obj in objs]
    with connection.cursor() as cursor:
        if not with_ids:
            with copy_into(cursor, model, list(rows[0])) as write:
                for row in rows:
                    write(row)
            return []
        # Ids come from the table's own sequence, so that history can point at the new rows.
        cursor.execute(NEXTVAL_SQL, [model._meta.db_table, model._meta.pk.column, len(rows)])
        ids = [new_id for (new_id,) in cursor.fetchall()]
        for new_id, row in zip(ids, rows, strict=True):
            row[pk] = new_id
        with copy_into(cursor, model, list(rows[0])) as write:
            for row in rows:
                write(row)
    return ids


def update_rows(model: type[models.Model], rows: list[dict[str, Any]], names: list[str]) -> None:
    """Write the fields `names` of existing rows (dicts holding the primary key and those)."""
    if not rows:
        return
    ensure_in_transaction()
    meta = model._meta
    pk = meta.pk.attname
    if not uses_copy():
        objs = [model(**{pk: row[pk], **{name: row[name] for name in names}}) for row in rows]
        model.objects.bulk_update(objs, names)
        return
    # Stage the new values in a temporary table, then one UPDATE ... FROM.
    qn = connection.ops.quote_name
    table, staged = qn(meta.db_table), qn(f"bulk_update_{meta.db_table}")
    fields = [meta.get_field(name) for name in [pk, *names]]
    definitions = ", ".join(f"{qn(f.column)} {f.db_type(connection)}" for f in fields)
    assignments = ", ".join(f"{qn(f.column)} = s.{qn(f.column)}" for f in fields[1:])
    pk_column = qn(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {staged} ({definitions}) ON COMMIT DROP")
        with copy_into(cursor, model, [pk, *names], table=staged) as write:
            for row in rows:
                write(row)
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {staged} AS s "
            f"WHERE t.{pk_column} = s.{pk_column}"
        )
        cursor.execute(f"DROP TABLE {staged}")


# Running an import


def counted(rows: int) -> str:
    return f"{rows:,} row{'' if rows == 1 else 's'}"


@dataclass
class Report:
    name: str
    noun: str
    dry_run: bool = False
    skip_invalid: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    written: bool = True
    seconds: float = 0.0

    def add(self, plan: Plan) -> None:
        self.created += len(plan.creates)
        self.updated += len(plan.updates)
        self.unchanged += plan.unchanged
        self.failed += plan.failed_rows
        self.failures.extend(plan.failures)

    def error_lines(self) -> list[str]:
        return [f"{where}: {column}: {message}" for where, column, message in self.failures]

    def summary(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0
        took = f"{counted(self.rows)} in {self.seconds:.2f} s ({rate:,.0f} rows/s)"
        if self.dry_run:
            counts = f"{self.created:,} to create, {self.updated:,} to update"
            took = f"dry run, nothing written; {took}"
        elif not self.written:
            # What the good rows would do: "loads the N good ones" said nothing of those unchanged.
            would = (
                f"{self.created:,} to create, {self.updated:,} to update, "
                f"{self.unchanged:,} unchanged"
            )
            return (
                f"{self.name}: nothing written: {self.failed:,} of {counted(self.rows)} failed and "
                f"the import is all or nothing (with --skip-invalid: {would}); checked {took}."
            )
        else:
            counts = f"{self.created:,} created, {self.updated:,} updated"
        return (
            f"{self.name}: {took}: {counts}, {self.unchanged:,} skipped (unchanged), "
            f"{self.failed:,} failed."
        )


class Progress:
    """`label: 12,000 / 100,000 rows (12%)` on one line of a terminal; silent otherwise.

    `stream` is a command's OutputWrapper (self.stderr)."""

    def __init__(self, stream, total: int, label: str):
        self.stream, self.total, self.label = stream, total, label
        self.shown = stream.isatty() and total > 0
        self.last = 0.0

    def show(self, text: str) -> None:
        self.stream.write(text, style_func=str, ending="")  # plain, not in the error colour
        self.stream.flush()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.shown and (now - self.last > 0.2 or done == self.total):
            self.last = now
            self.show(
                f"\r{self.label}: {done:,} / {self.total:,} rows ({100 * done // self.total}%)"
            )

    def close(self) -> None:
        if self.shown:
            self.show("\r\033[K")


def run_import(
    importer: Importer,
    rows: list[Row],
    *,
    name: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Check every row and write the good ones, batch by batch.

    All or nothing by default: one transaction for the run, rolled back when any row fails
    (rows are still all checked, so that every error is reported). With `skip_invalid`, each
    batch's good rows are committed in a transaction of their own. A dry run writes nothing.
    """
    report = Report(name, importer.noun, dry_run=dry_run, skip_invalid=skip_invalid)
    report.rows = len(rows)
    started, done = time.perf_counter(), 0
    batches = list(batched(rows, batch_size))
    if not dry_run and uses_copy() and not connection.in_atomic_block and len(batches) > 1:
        plans = checked_ahead(importer, batches)
    else:
        plans = (importer.prepare(batch) for batch in batches)

    def account(plan: Plan) -> None:
        nonlocal done
        report.add(plan)
        done += plan.rows
        if progress:
            progress.update(done)

    with closing(plans):
        if skip_invalid and not dry_run:
            for plan in plans:
                with transaction.atomic():
                    importer.write(plan)
                account(plan)
        else:
            with transaction.atomic():
                # Where rows are locked at all: SQLite has no row locks (a write takes the whole
                # database), and a whole file's lookups there would pass its limit of parameters.
                if not dry_run and connection.features.has_select_for_update:
                    importer.lock_ahead(rows)
                for plan in plans:
                    if not (dry_run or report.failed or plan.failed_rows):
                        importer.write(plan)
                    account(plan)
                report.written = not (dry_run or report.failed)
                if not report.written:
                    transaction.set_rollback(True)
    if progress:
        progress.close()
    report.seconds = time.perf_counter() - started
    return report


def checked_ahead(importer: Importer, batches: list[list[Row]]) -> Iterator[Plan]:
    """Check the batches in a helper thread while the caller writes the ones already checked.

    Checking is Python work and writing mostly waits for PostgreSQL, so on two cores the one
    hides much of the other. The helper reads through its own database connection, outside
    the import's transaction. That is safe because it only reads what the import does not
    write: objects matched by key (a key appears once in a file), people, teams and tickets.
    """
    plans: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                plans.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def check() -> None:
        try:
            for batch in batches:
                if not offer(importer.prepare(batch)):
                    return
            offer(None)
        except BaseException as exc:  # handed to the caller, who raises it
            offer(exc)
        finally:
            connection.close()  # this thread's own connection

    helper = threading.Thread(target=check, name="import-check", daemon=True)
    # The writer wakes up each time PostgreSQL answers and then needs the GIL, which the
    # checking thread may hold for a whole switch interval (5 ms by default): a short interval
    # keeps the writer from queueing behind it hundreds of times.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
    helper.start()
    try:
        while (item := plans.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join()
        sys.setswitchinterval(interval)


# Management commands


def batch_size_option(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_BATCH_SIZE:,}")
    return value


class ImportCommand(BaseCommand):
    """`import_<kind> FILE`: the options and the reporting every import shares."""

    importer_class: ClassVar[type[Importer]]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A .csv or .json file (see --format).")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or json; by default from the file's extension."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row and write nothing."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Load the good rows and report the others (exit status still 1).",
        )
        parser.add_argument(
            "--batch-size",
            type=batch_size_option,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows checked and written together (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args, file, format, dry_run, skip_invalid, batch_size, **options):
        started, kind = time.perf_counter(), self.importer_class
        name = Path(file).name
        with paused_garbage_collection():
            try:
                rows = kind.read(read_file(file), file, detect_format(file, format))
            except FileProblem as exc:
                raise CommandError(str(exc)) from None
            progress = Progress(self.stderr, len(rows), name)
            try:
                report = run_import(
                    kind(),
                    rows,
                    name=name,
                    batch_size=batch_size,
                    dry_run=dry_run,
                    skip_invalid=skip_invalid,
                    progress=progress,
                )
            except ChangedMeanwhile as exc:
                progress.close()
                kept = "the batches before were kept" if skip_invalid else "nothing written"
                raise CommandError(f"{name}: {exc}; {kept}. Run the import again.") from None
            except DatabaseError as exc:
                progress.close()
                detail = " ".join(str(exc).split("\n")[:2]).strip().rstrip(".")
                kept = " (the batches before it were kept)" if skip_invalid else "; nothing written"
                if isinstance(exc, IntegrityError):  # a row written meanwhile, such as a key
                    raise CommandError(
                        f"{name}: the database refused a batch{kept}: {detail}. Did something "
                        "change the same rows meanwhile? Run the import again."
                    ) from None
                raise CommandError(
                    f"{name}: the database failed{kept}: {detail or type(exc).__name__}."
                ) from None
        report.seconds = time.perf_counter() - started
        for line in report.error_lines():
            self.stderr.write(line)
        self.stdout.write(report.summary())
        if report.failed:
            loaded = ""
            if skip_invalid and not dry_run and report.created + report.updated:
                loaded = "; the others were loaded"
            elif skip_invalid and not dry_run and report.unchanged:
                loaded = "; the others were unchanged"
            raise CommandError(f"{report.failed:,} of {counted(report.rows)} failed{loaded}.")


@contextmanager
def paused_garbage_collection():
    """An import builds hundreds of thousands of small objects that live until it ends, and
    Python's cycle collector would walk them over and over; none of them form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, as the API writes it: what the import reads back."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def due_date(moment: datetime | None) -> str:
    """A due date as the import reads it back: `none` when there is none, which an empty cell
    would not say (a new row takes its priority's due date)."""
    return NO_DATE if moment is None else iso(moment)


def current_umask() -> int:
    mask = os.umask(0)  # reading it means setting it: set it back at once
    os.umask(mask)
    return mask


class ExportCommand(BaseCommand):
    """`export_<kind> [-o FILE] [--format csv|json]`: the columns the import reads."""

    noun: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    key: ClassVar[str] = "external_ref"

    def rows(self) -> Iterable[dict[str, Any]]:
        """Dicts with the `columns` as keys; None for a value that is not set."""
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-o", "--output", help="Write to this file instead of standard output (`-`)."
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="csv or json; by default from the output file's extension (.csv, .json; "
            "another is refused), else csv.",
        )

    def handle(self, *args, output, format, **options):
        started = time.perf_counter()
        output = None if output == "-" else output  # the usual name of standard output
        try:
            fmt = output_format(output, format) if output else (format or "csv")
        except FileProblem as exc:
            raise CommandError(str(exc)) from None
        self.count = self.unkeyed = 0
        try:
            if output:
                self.export_to_file(output, fmt)
            else:
                try:
                    self.export(lambda text: self.stdout.write(text, ending=""), fmt)
                except BrokenPipeError:  # e.g. `export_tickets | head`: the reader has had enough
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return
        except DatabaseError as exc:
            detail = " ".join(str(exc).split("\n")[:2]).strip() or type(exc).__name__
            raise CommandError(f"The database could not be read: {detail}") from None
        seconds = time.perf_counter() - started
        where = output or "standard output"
        self.stderr.write(
            f"Exported {self.noun}: {counted(self.count)} to {where} in {seconds:.2f} s."
        )
        if self.unkeyed:
            self.stderr.write(
                f"{self.unkeyed:,} of them have no {self.key}: an import refuses those rows "
                "until they are given one."
            )
        for note in self.notes():
            self.stderr.write(note)

    def notes(self) -> list[str]:
        """More that the export could not carry over, counted by `rows()`, one line each."""
        return []

    def export_to_file(self, output: str, fmt: str) -> None:
        """Into a new file beside `output`, which replaces it once the export is whole: a
        failure leaves an earlier export there as it was, not a truncated one. As `> output`
        would, a link is followed (the file it points at is replaced) and a file replaced keeps
        its permissions. A device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO) is written into,
        as `>` does: replacing it would put a file in its place."""
        try:
            found = os.stat(output) if os.path.exists(output) else None  # links followed
            if found is not None and stat.S_ISDIR(found.st_mode):
                raise CommandError(f"{output}: cannot be written (it is a folder).")
            if found is not None and not stat.S_ISREG(found.st_mode):
                with open(output, "w", encoding="utf-8", newline="") as out:
                    self.export(out.write, fmt)
                return
            target = Path(output).resolve()
            mode = found.st_mode & 0o7777 if found is not None else 0o666 & ~current_umask()
            with tempfile.NamedTemporaryFile(
                "w",
                encoding="utf-8",
                newline="",
                dir=target.parent,
                delete=False,
                prefix=f".{target.name}.",
                suffix=".part",
            ) as out:
                partial = Path(out.name)
                try:
                    self.export(out.write, fmt)
                except BaseException:
                    out.close()
                    partial.unlink(missing_ok=True)
                    raise
            try:
                partial.chmod(mode)
                partial.replace(target)
            except OSError:
                partial.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CommandError(f"{output}: cannot be written ({exc.strerror}).") from None
        except RuntimeError:  # Path.resolve() going round a loop of links
            raise CommandError(f"{output}: cannot be written (a loop of links).") from None

    def counted(self) -> Iterator[dict[str, Any]]:
        for row in self.rows():
            self.count += 1
            self.unkeyed += not row[self.key]
            yield row

    def export(self, write: Callable[[str], Any], fmt: str) -> None:
        if fmt == "json":
            separator = "["
            for row in self.counted():
                write(f"{separator}\n{json.dumps(row, ensure_ascii=False)}")
                separator = ","
            write("\n]\n" if self.count else "[]\n")
            return
        buffer = io.StringIO()
        # CRLF, as RFC 4180 has it: the writer then also quotes a cell holding a lone CR, which
        # the reader would otherwise take for the end of the row.
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.counted():
            writer.writerow([csv_text(row[column]) for column in self.columns])
            if buffer.tell() > 1 << 16:
                write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        write(buffer.getvalue())
