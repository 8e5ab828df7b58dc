"""A streamed body as rows of text for a staging table, in bounded batches: (line number, parse error, fields…).

Blank lines are left out; a line that is not valid UTF-8 or cannot be split into fields carries its parse error.
What the fields mean, and so what a valid row is, is the upload's own business (and the database's, in SQL).
"""

import csv
import json
from collections.abc import AsyncIterator, Callable, Sequence

from services.api.bulk.stream import NUL_REASON, Digest, Row, decode, error_row, header_not_utf8, lines, no_header


async def texts(stream: AsyncIterator[bytes], digest: Digest, width: int) -> AsyncIterator[list[tuple[int, str | Row]]]:
    """The lines that are not blank with their numbers, in blocks: each as text, or as its error row (of `width`
    fields) when it is not valid UTF-8."""
    async for block in lines(stream, digest):
        yield [(line_no, decode(line_no, raw, width)) for line_no, raw in block if raw.strip()]


async def csv_rows(
    stream: AsyncIterator[bytes],
    digest: Digest,
    *,
    fields: Sequence[str],
    header: Callable[[str], list[str]],
    batch_rows: int,
) -> AsyncIterator[list[Row]]:
    """A CSV body, each line read by the csv module: `header` reads (and checks) the header line; a field the
    header does not name is null, the others are trimmed."""
    width = len(fields)
    names: list[str] | None = None
    positions: list[int] = []
    batch: list[Row] = []
    async for block in texts(stream, digest, width):
        for line_no, text in block:
            if not isinstance(text, str):
                if names is None:
                    raise header_not_utf8()
                batch.append(text)
                continue
            if names is None:
                names = header(text)
                positions = [names.index(f) if f in names else -1 for f in fields]
                continue
            try:
                cells = next(csv.reader([text], strict=True))
            except csv.Error as exc:
                batch.append(error_row(line_no, f"row|malformed CSV: {exc}", width))
                continue
            if len(cells) != len(names):
                batch.append(error_row(line_no, f"row|expected {len(names)} fields, found {len(cells)}", width))
                continue
            batch.append((line_no, None, *[cells[p].strip() if p >= 0 else None for p in positions]))
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if names is None:
        raise no_header()
    if batch:
        yield batch


async def jsonl_rows(
    stream: AsyncIterator[bytes], digest: Digest, *, width: int, row: Callable[[int, str], Row], batch_rows: int
) -> AsyncIterator[list[Row]]:
    """A JSON Lines body: `row` turns one line's text (valid UTF-8, not blank) into its row of `width` fields."""
    batch: list[Row] = []
    async for block in texts(stream, digest, width):
        batch += [row(line_no, text) if isinstance(text, str) else text for line_no, text in block]
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def json_text_row(line_no: int, text: str, fields: Sequence[str]) -> Row:
    """One JSON Lines line as a staging row of `fields`, every value as text (trimmed), or its error row. Numbers
    keep their printed text: an amount is never rounded through a float (nor NaN or Infinity taken)."""
    try:
        obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=_no_constant)
    except ValueError as exc:
        return error_row(line_no, f"row|malformed JSON: {exc}", len(fields))
    if not isinstance(obj, dict):
        return error_row(line_no, "row|each line must be a JSON object", len(fields))
    for key, value in obj.items():
        if key not in fields:
            return error_row(line_no, f"{key}|unknown field", len(fields))
        if value is not None and not isinstance(value, str):
            return error_row(line_no, f"{key}|expected a string or a number", len(fields))
        if value is not None and ("\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)):
            return error_row(
                line_no, f"{key}|{NUL_REASON}" if "\x00" in value else f"{key}|not valid Unicode", len(fields)
            )
    values: list[str | None] = [obj.get(f) for f in fields]
    return (line_no, None, *[v.strip() if v is not None else None for v in values])
