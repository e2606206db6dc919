"""What every CSV import shares: reading the file (UTF-8, the header, one record at a time
with bad rows reported by line and column), the report, and writing in batches where a
batch the database refuses is written again row by row so that only the bad row goes.
The organisations (importing.py) and the offers template (offers_import.py) use it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from sqlalchemy.exc import DBAPIError

from ssefed.db.session import Database
from ssefed.domain.errors import InvalidInput

BATCH = 500
MAX_ROWS = 1_000_000


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    with_position: int = 0
    errors: list[RowError] = field(default_factory=list)
    what: str = "organisation"  # or "offer"


def parse_float(value: str, column: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(column, f"not a number: {value[:40]!r}") from None


def decode_csv(raw: bytes) -> str:
    """The text of a CSV file: UTF-8 (a BOM is skipped), else InvalidInput."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"not UTF-8 text (byte {exc.start}): save it as "
                                   "\"CSV UTF-8\"") from None


def _csv_error(exc: csv.Error, line: int) -> InvalidInput:
    # the rows after a CSV syntax error cannot be told apart: the file is refused
    return InvalidInput("file", f"line {line}: {exc}")


def csv_header(text: str) -> list[str]:
    """The column names (the first record), or InvalidInput."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return next(reader, [])
    except csv.Error as exc:
        raise _csv_error(exc, reader.line_num) from None


def read_records(text: str, report: ImportReport, convert: Callable[[dict[str, str], int], Any]
                 ) -> Iterator[Any]:
    """Parse the CSV records with ``convert``, yielding good rows and recording bad ones;
    a file that is not CSV (e.g. a field over csv's 128 KiB limit) is InvalidInput."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records = iter(reader)
    line = 1
    while True:
        try:
            rec = next(records, None)  # reads the header first
        except csv.Error as exc:
            raise _csv_error(exc, reader.reader.line_num) from None  # DictReader's lags
        if rec is None:
            return
        start, line = line + 1, reader.line_num
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise InvalidInput("file", f"more than {MAX_ROWS} rows")
        if None in rec:  # more fields than columns
            report.errors.append(RowError(start, "*", "more fields than the header has"))
            continue
        try:
            yield convert(rec, start)
        except InvalidInput as exc:
            report.errors.append(RowError(start, exc.field, exc.message))


@dataclass
class Plan:
    """What to write for one good row: a new row, or new values for the existing row
    ``existing_id``."""

    row: Any
    values: dict[str, Any]
    existing_id: int | None = None
    handle: str = ""
    new_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def write_rows(db: Database, rows: list[Any], plan: Callable[[Any], Plan | None],
                     write, written: Callable[[Plan], None], report: ImportReport,
                     progress: Callable[[int, int], None] | None = None,
                     flushed: Callable[[], None] = lambda: None) -> ImportReport:
    """The loop of every import: ``plan(row)`` says what to write for a row (None:
    nothing, the row is unchanged or refused); plans are written BATCH at a time (see
    write_in_batches) and each one written is passed to ``written``, then ``flushed()``.
    A row whose key is already in the batch has the batch written first, so that it
    sees what the first wrote."""
    batch: list[Plan] = []
    keys: set[str] = set()

    async def flush() -> None:
        for p in await write_in_batches(db, batch, write, report):
            written(p)
        batch.clear()
        keys.clear()
        flushed()

    for done, row in enumerate(rows, start=1):
        if row.key in keys:
            await flush()
        keys.add(row.key)
        new = plan(row)
        if new is not None:
            batch.append(new)
        if len(batch) >= BATCH:
            await flush()
            if progress is not None:
                progress(done, len(rows))
    await flush()
    if progress is not None:
        progress(len(rows), len(rows))
    report.errors.sort(key=lambda e: e.line)
    return report


async def write_in_batches(db: Database, plans: list[Any], write, report: ImportReport
                           ) -> list[Any]:
    """Write ``plans`` with ``write(session, plans)`` in one transaction; when the
    database refuses the batch, write them again one by one, each in a savepoint, and
    report the rows it refuses. Returns the plans written."""
    if not plans:
        return []
    try:
        async with db.write() as s:
            await write(s, plans)
        return list(plans)
    except DBAPIError:
        pass
    written = []
    async with db.write() as s:
        for plan in plans:
            try:
                async with s.begin_nested():
                    await write(s, [plan])
            except DBAPIError as exc:
                message = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
                report.errors.append(RowError(plan.row.line, "*",
                                              f"refused by the database: {message}"))
                continue
            written.append(plan)
    return written
