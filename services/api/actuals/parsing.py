"""Incremental handling of a streamed CSV or JSON Lines body on its way into the staging tables.

Nothing is read whole into memory: the body arrives in chunks and is handed on as it comes.

* CSV is not parsed in Python. After the header line, the bytes go straight into COPY (text format, comma as
  delimiter), one staging row per physical line, numbered in input order by an identity column, so line numbers
  stay exact. A block of lines is only checked at C speed (UTF-8 validity, one field count per line) and escaped
  where COPY would read it differently (backslash, carriage return). The rare lines that are not plain (invalid
  UTF-8, NUL byte, double quotes, a wrong field count, blank) are taken one by one, as the csv module reads them:
  their fields, or their parse error in the last column.
* JSON Lines are parsed here (orjson) into rows of text and copied in bounded batches.

Values stay text; the database validates them (set-based, in SQL). A row that cannot even be split into fields
(bad encoding, wrong field count, malformed CSV or JSON) carries a `parse_error`. The digest, the header checks,
the JSON Lines batches and the shapes of a refused line are the bulk toolkit's (`services.api.bulk`); the fields
and what this upload accepts of them are here.
"""

import csv
import operator
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from services.api.bulk import rows as bulk_rows
from services.api.bulk.stream import (
    NUL_REASON,
    Digest,
    Row,
    csv_header,
    error_row,
    header_not_utf8,
    no_header,
    not_utf8,
)

FIELDS = (
    "region",
    "profile",
    "provider",
    "month",
    "treated_cases",
    "children_cases",
    "rural_cases",
    "bed_days",
    "children_bed_days",
    "rural_bed_days",
)
REQUIRED = ("region", "profile", "month", "treated_cases", "children_cases", "rural_cases", "bed_days")
NUMBER_FIELDS = frozenset(
    ("treated_cases", "children_cases", "rural_cases", "bed_days", "children_bed_days", "rural_bed_days")
)
BATCH_ROWS = 20_000
_KNOWN = frozenset(FIELDS)


def _csv_header(text: str) -> list[str]:
    return csv_header(text, FIELDS, REQUIRED)


def _json_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return orjson.dumps(value).decode()


def _json_row(line_no: int, text: str) -> Row:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return error_row(line_no, f"row|malformed JSON: {exc}", len(FIELDS))
    if not isinstance(obj, dict):
        return error_row(line_no, "row|each line must be a JSON object", len(FIELDS))
    unknown = [k for k in obj if k not in _KNOWN]
    if unknown:
        return error_row(line_no, f"{unknown[0]}|unknown field", len(FIELDS))
    values = [_json_value(obj.get(f)) for f in FIELDS]
    for field, value in zip(FIELDS, values, strict=True):
        if value is not None and "\x00" in value:
            return error_row(line_no, f"{field}|{NUL_REASON}", len(FIELDS))
    return (line_no, None, *values)


def jsonl_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return bulk_rows.jsonl_rows(stream, digest, width=len(FIELDS), row=_json_row, batch_rows=BATCH_ROWS)


# What str.strip() strips: every whitespace character of Python, and the ASCII ones alone (enough for an ASCII body).
UNICODE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
ASCII_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
# The UTF-8 bytes of every whitespace character but the line break: a body holding none needs no trimming.
SPACE_BYTES = tuple(c.encode() for c in UNICODE_SPACE if c != "\n")
ASCII_SPACE_BYTES = tuple(b for b in SPACE_BYTES if len(b) == 1)
_commas = operator.methodcaller("count", b",")


def _escape(data: bytes) -> bytes:
    """Bytes as COPY text-format data with the comma as delimiter: backslash and carriage return are escaped."""
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b"\r" in data:
        data = data.replace(b"\r", b"\\r")
    return data


def _field(value: str) -> bytes:
    """One value as a COPY text-format field (delimiter, backslash and line breaks escaped)."""
    data = _escape(value.encode())
    if b"," in data:
        data = data.replace(b",", b"\\,")
    if b"\n" in data:
        data = data.replace(b"\n", b"\\n")
    return data


class NotDirect(Exception):
    """The body cannot take the direct way into executed_volume; the checked way takes it (and says why per row)."""


# For each month MM: the "-MM" ending a field of the form YYYY-MM, and what the direct way writes instead (a date,
# YYYY-MM-01). The literal comes first in the pattern so that the search runs at the speed of a substring search (a
# pattern opening with a lookbehind is tried at every byte); one pass per month with a literal replacement costs less
# than one pass with a group reference, which Python expands match by match.
_MONTH_ENDS = tuple(
    (re.compile(rb"-%02d(?=[,\n])(?<=[,\n][0-9]{4}-%02d)" % (m, m)), b"-%02d" % m, b"-%02d-01" % m)
    for m in range(1, 13)
)
# What the direct way leaves to the checked way: a quoted field, an escape, a NUL, a sign (COPY reads "+5" and "-0"
# as numbers where the checked way refuses them).
_NOT_DIRECT = (b'"', b"\\", b"\x00", b"+")


class CsvBody:
    """A streamed CSV body: `read_header()` takes the header line, then `copy_data()` yields the remaining lines as
    COPY text-format data (comma-delimited) of the staging table: one row per physical line, the header's fields in
    order and then the line's parse error. Blank lines are rows too (all fields and the error empty), so that the
    identity column numbers the lines exactly as the file does.

    A block of lines that is valid UTF-8, holds no double quote nor NUL and whose every line has as many fields as
    the header (the usual block) goes on as it is, only escaped and with a null error appended to each line, at C
    speed. The other blocks are taken line by line, as the csv module would read them."""

    def __init__(self, stream: AsyncIterator[bytes], digest: Digest) -> None:
        self._chunks = stream.__aiter__()
        self._digest = digest
        self._buffer = b""
        self._eof = False
        self.header: list[str] = []
        self.header_line = 0
        self.ascii = True  # every byte so far is ASCII: fields need only ASCII whitespace trimmed
        self.spaces = False  # some line holds whitespace (other than the line break): fields are trimmed
        self.not_direct: str | None = None  # why the direct way stopped (see direct_data)

    @property
    def width(self) -> int:
        return len(self.header)

    async def _next(self) -> bytes | None:
        while not self._eof:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._eof = True
                break
            if chunk:
                self._digest.update(chunk)
                return chunk
        return None

    async def read_header(self) -> None:
        line_no = 0
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                chunk = await self._next()
                if chunk is not None:
                    self._buffer += chunk
                    continue
                if not self._buffer:
                    raise no_header()
                end = len(self._buffer)
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            line_no += 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise header_not_utf8() from None
            self.header = _csv_header(text)
            self.header_line = line_no
            return

    def _error_row(self, reason: str) -> bytes:
        return b"\\N," * self.width + _field(reason)

    def _row(self, line: bytes) -> bytes:
        """One line taken on its own, as the csv module would read it, as a staging row."""
        raw = line[:-1] if line.endswith(b"\r") else line
        if not raw.strip():
            return b"," * self.width  # a blank line: empty fields, empty error
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._error_row(not_utf8(raw, exc))
        at = raw.find(b"\x00")
        if at >= 0:
            return self._error_row(f"row|holds a NUL byte (byte {at + 1} of the line)")
        if '"' in text:
            try:
                cells = next(csv.reader([text], strict=True))
            except csv.Error as exc:
                return self._error_row(f"row|malformed CSV: {exc}")
            if len(cells) != self.width:
                return self._error_row(f"row|expected {self.width} fields, found {len(cells)}")
            return b",".join(map(_field, cells)) + b",\\N"
        found = raw.count(b",") + 1
        if found != self.width:
            return self._error_row(f"row|expected {self.width} fields, found {found}")
        return _escape(raw) + b",\\N"

    def _lines(self, data: bytes) -> bytes:
        """Complete lines (ending in a line break) as COPY data."""
        if data.isascii():
            clean = b"\x00" not in data
        else:
            self.ascii = False
            try:
                data.decode("utf-8")
                clean = b"\x00" not in data
            except UnicodeDecodeError:
                clean = False
        if not self.spaces:
            self.spaces = any(space in data for space in (ASCII_SPACE_BYTES if self.ascii else SPACE_BYTES))
        lines = data.split(b"\n")
        lines.pop()  # data ends with a line break
        if clean and b'"' not in data and set(map(_commas, lines)) == {self.width - 1}:
            return _escape(data).replace(b"\n", b",\\N\n")
        return b"\n".join(map(self._row, lines)) + b"\n"

    async def copy_data(self) -> AsyncIterator[bytes]:
        rest, self._buffer = self._buffer, b""
        while True:
            chunk = await self._next()
            if chunk is None:
                if rest:
                    yield self._lines(rest if rest.endswith(b"\n") else rest + b"\n")
                return
            data = rest + chunk
            # Only complete lines go on: a multi-byte character is never split, as no UTF-8 sequence holds "\n".
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            yield self._lines(data[:cut] if cut < len(data) else data)

    def _direct(self, data: bytes) -> bytes:
        """Complete lines as COPY text data for the direct way, or NotDirect.

        The month is written YYYY-MM-01 (a date, as COPY reads it) by rewriting every field of the form YYYY-MM,
        and there must be as many of those as lines. So a line whose month field is not of that form (a full date
        YYYY-MM-DD included) either fails COPY's date input, or is made up for by a line with two such fields, one
        of them outside the month column, which a check refuses as a region, profile, provider or number
        (repository.direct_refusal)."""
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        if data.isascii():
            spaces = ASCII_SPACE_BYTES
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise NotDirect("not valid UTF-8") from None
            spaces = SPACE_BYTES
        if any(s in data for s in spaces) or any(s in data for s in _NOT_DIRECT):
            raise NotDirect("a field to trim, quote, unescape or read as signed")
        if data.startswith((b"-", b"\n")) or b",-" in data or b"\n-" in data or b"\n\n" in data:
            raise NotDirect("a blank line or a field starting with a minus")
        data, months = b"\n" + data, 0
        for pattern, end, date_end in _MONTH_ENDS:
            if end in data:
                data, found = pattern.subn(date_end, data)
                months += found
        if months != data.count(b"\n") - 1:
            raise NotDirect("a line without a month YYYY-MM")
        return data[1:]

    async def direct_data(self) -> AsyncIterator[bytes]:
        """The lines after the header as COPY text data (comma-delimited, an empty field null) of the columns the
        header names, for the direct way. Stops at the first block holding what only the checked way reads right,
        with the reason in `not_direct` (ending the data, rather than failing the COPY from here, keeps the
        connection's transaction usable). Blank lines at the very end are left out, as the checked way skips them."""
        rest, self._buffer = self._buffer, b""
        held_blank = False
        try:
            while True:
                chunk = await self._next()
                data = rest + chunk if chunk is not None else rest
                if chunk is None and data and not data.endswith(b"\n"):
                    data += b"\n"
                cut = data.rfind(b"\n") + 1
                rest, data = data[cut:], data[:cut]
                if data:
                    lines = data.rstrip(b"\r\n")
                    if held_blank and lines:
                        raise NotDirect("a blank line")
                    held_blank = held_blank or not lines or data.count(b"\n", len(lines)) > 1
                    if lines:
                        yield self._direct(lines + b"\n")
                if chunk is None:
                    return
        except NotDirect as exc:
            self.not_direct = str(exc)
