"""Reading a streamed CSV or JSON Lines body of executed volumes on its way into the staging table.

Nothing is read whole into memory: the body arrives in chunks and is handed on as it comes.

* CSV is read by Postgres: after the header line (read here), the bytes go as they come into Postgres's own CSV
  COPY, one staging row per line, numbered in input order by an identity column. Postgres refuses the whole COPY
  when a line is not one record of the header's fields (a wrong field count, a blank line, a quoted field left
  open or holding a line break, invalid UTF-8, a NUL byte); then the body, kept as it passed, is read again here
  line by line (`csv_line_rows`), as the csv module reads each line, so that each such line gets its own error.
* JSON Lines are parsed here (orjson) into rows of text and copied in bounded batches.

Values stay text; the database validates them (set-based, in SQL). A row that cannot even be split into fields
(bad encoding, wrong field count, malformed CSV or JSON) carries a `parse_error`. The digest, the header checks,
the JSON Lines batches and the shapes of a refused line are the bulk toolkit's (`services.api.bulk`); the fields
and what this upload accepts of them are here.
"""

import csv
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
    lines,
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
# The UTF-8 bytes of every whitespace character but the line breaks: a body holding none needs no trimming.
SPACE_BYTES = tuple(c.encode() for c in UNICODE_SPACE if c not in "\r\n")
ASCII_SPACE_BYTES = tuple(b for b in SPACE_BYTES if len(b) == 1)


class CsvBody:
    """A streamed CSV body: `read_header()` takes the header line, then `copy_data()` yields the rest as it comes,
    for Postgres's CSV COPY, and counts the lines it hands on (`lines`): COPY must make as many rows of them, or
    some line was not one record (a quoted field holding a line break) and the body is read again line by line.

    Blank lines at the very end are left out (COPY would refuse them; they are no rows). On the way, the body is
    looked at for whitespace only, at C speed: `spaces` says whether some field may need trimming, `ascii` whether
    ASCII whitespace is all there can be."""

    def __init__(self, stream: AsyncIterator[bytes], digest: Digest) -> None:
        self._chunks = stream.__aiter__()
        self._digest = digest
        self._buffer = b""
        self.header: list[str] = []
        self.header_line = 0
        self.lines = 0  # the lines handed on to COPY
        self.ascii = True
        self.spaces = False

    @property
    def width(self) -> int:
        return len(self.header)

    async def _next(self) -> bytes | None:
        async for chunk in self._chunks:
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

    def _look(self, data: bytes) -> bytes:
        if self.ascii and not data.isascii():
            self.ascii = False
        if not self.spaces:
            self.spaces = any(s in data for s in (ASCII_SPACE_BYTES if self.ascii else SPACE_BYTES)) or (
                b"\r" in data and data.count(b"\r") != data.count(b"\r\n")  # a carriage return in a quoted field
            )
        # What goes on never ends in a line break (see copy_data): its lines are its line breaks and one more.
        self.lines += data.count(b"\n") + (self.lines == 0)
        return data

    async def copy_data(self) -> AsyncIterator[bytes]:
        held = self._buffer  # line breaks at the end of what came so far: sent only once more lines follow
        self._buffer = b""
        while True:
            chunk = await self._next()
            if chunk is None:
                break
            data = held + chunk
            kept = data.rstrip(b"\r\n")
            held = data[len(kept) :]
            if kept:
                yield self._look(kept)
        rest = held.rstrip(b"\r\n")
        if rest:
            yield self._look(rest)


async def csv_line_rows(stream: AsyncIterator[bytes], digest: Digest, batch_rows: int = BATCH_ROWS) -> Any:
    """A CSV body read line by line, as the csv module reads each line, as staging rows (line_no, the header's
    fields in order, parse error): the header's line is left out (the first line that is not blank), and so are
    blank lines. For the bodies Postgres's COPY cannot take (see the module's docstring)."""
    width: int | None = None
    batch: list[Row] = []
    async for block in lines(stream, digest):
        for line_no, raw in block:
            if not raw.strip():
                continue
            if width is None:
                try:
                    width = len(_csv_header(raw.decode("utf-8")))
                except UnicodeDecodeError:
                    raise header_not_utf8() from None
                continue
            batch.append(_line_row(line_no, raw, width))
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if width is None:
        raise no_header()
    if batch:
        yield batch


def _line_row(line_no: int, raw: bytes, width: int) -> Row:
    def error(reason: str) -> Row:
        return (line_no, *([None] * width), reason)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return error(not_utf8(raw, exc))
    at = raw.find(b"\x00")
    if at >= 0:
        return error(f"row|holds a NUL byte (byte {at + 1} of the line)")
    if '"' in text:
        try:
            cells = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            return error(f"row|malformed CSV: {exc}")
    else:
        cells = text.split(",")  # a carriage return inside a field is a character of it (the csv module refuses it)
    if len(cells) != width:
        return error(f"row|expected {width} fields, found {len(cells)}")
    return (line_no, *cells, None)
