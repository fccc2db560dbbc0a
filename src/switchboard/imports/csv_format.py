"""The bulk CSV format (shared/API.md "Bulk CSV"): one row per user, the header names the
columns in any order; UTF-8 with or without BOM, comma or semicolon, CRLF or LF, quoted
cells. Reading refuses, before any work, what is not such a file; writing neutralises the
cells a spreadsheet would run as a formula (and reading takes that back)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from switchboard.core.errors import ErrorItem, PayloadTooLarge, ValidationFailed

MAX_ROWS = 10_000
MAX_BYTES = 10 * 1024 * 1024
MAX_PHONES = 8

USER_COLUMNS = ("email", "first_name", "last_name", "role")
SERVICE_COLUMNS = ("mivb", "service_category", "group", "user_pin", "location", "department")
PHONE_FIELDS = ("type", "model", "mac", "dn", "did", "voicemail", "acd_agent", "external_number",
                "cos_day", "cos_night1", "cos_night2", "cor_day", "cor_night1", "cor_night2", "language")
PHONE_COLUMNS = tuple(f"phone{n}_{name}" for n in range(1, MAX_PHONES + 1) for name in PHONE_FIELDS)
COLUMNS = USER_COLUMNS + SERVICE_COLUMNS + PHONE_COLUMNS
REQUIRED = ("email",)
# A cell starting with one of these is a formula to a spreadsheet: written with a leading '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def phone_column(n: int, name: str) -> str:
    return f"phone{n}_{name}"


@dataclass
class Row:
    number: int  # 1 = the first data row
    cells: dict[str, str]
    problems: list[ErrorItem] = field(default_factory=list)

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass
class CsvFile:
    columns: list[str]
    rows: list[Row]

    @property
    def has_phones(self) -> bool:
        """Whether the file describes phones at all (else a user's phones are kept)."""
        return any(column.startswith("phone") for column in self.columns)


def _file_error(code: str, message: str, **params) -> ValidationFailed:
    return ValidationFailed(code, message, field="file", **params)


def masked(cells: dict[str, str]) -> dict[str, str]:
    """A row as it may be shown back (a page, a result file): a pin typed in it is masked."""
    pin = cells.get("user_pin", "")
    return {**cells, "user_pin": "****"} if pin and pin not in ("auto", "****") else cells


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unneutralise(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def _delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def read(data: bytes) -> CsvFile:
    """The file's columns and rows; a file that cannot be such a CSV is refused whole."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge("file_too_large", "A file holds at most 10 MiB.", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error("invalid_encoding", "The file is not UTF-8 text: save it as \"CSV UTF-8\".") from None
    if "\x00" in text:
        raise _file_error("not_csv", "The file is not a CSV file.")
    if not text.strip():
        raise _file_error("empty_file", "The file is empty: it needs a header line and a row per user.")
    delimiter = _delimiter(text.splitlines()[0])
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise _file_error("not_csv", "The file is not a valid CSV file: %(reason)s", reason=str(exc)) from None
    header = [cell.strip().lower() for cell in lines[0]]
    _check_header(header)
    rows = []
    for number, cells in enumerate((line for line in lines[1:] if any(cell.strip() for cell in line)), start=1):
        if number > MAX_ROWS:
            raise _file_error("too_many_rows", "A file holds at most %(max)s rows.", max=MAX_ROWS)
        values = {column: unneutralise(cell.strip()) for column, cell in zip(header, cells)}
        row = Row(number, values)
        if len(cells) != len(header):
            row.problems.append(ErrorItem("ragged_row", "This row has %(cells)s cells; the header has %(columns)s.",
                                          None, {"cells": len(cells), "columns": len(header)}, row=number))
        rows.append(row)
    return CsvFile(header, rows)


def _check_header(header: list[str]) -> None:
    problems = []
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        problems.append(ErrorItem("unknown_column", "Unknown columns: %(columns)s.", "file",
                                  {"columns": ", ".join(c or '""' for c in unknown)}))
    doubled = sorted({column for column in header if header.count(column) > 1})
    if doubled:
        problems.append(ErrorItem("duplicate_column", "Columns named twice: %(columns)s.", "file",
                                  {"columns": ", ".join(doubled)}))
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        problems.append(ErrorItem("missing_column", "Required columns missing: %(columns)s.", "file",
                                  {"columns": ", ".join(missing)}))
    if problems:
        raise ValidationFailed(errors=problems)


def write(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> str:
    """The rows as CSV (comma, CRLF, a BOM so spreadsheets read UTF-8), formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(str(row.get(column, "") or "")) for column in columns])
    return "\ufeff" + buffer.getvalue()
