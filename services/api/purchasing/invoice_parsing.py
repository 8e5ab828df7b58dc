"""Incremental parsing of a streamed CSV or JSON Lines body of invoices into rows of text for the staging table.

The line splitting and the digest are the actuals upload's (`services.api.actuals.parsing`); the fields are the
invoice's. Values stay text here (amounts are never turned into floats): the database validates them set-based.
A row that cannot even be split into fields (bad UTF-8, wrong field count, malformed JSON, unknown field) carries
a `parse_error` "field|reason".
"""

import csv
import json
from collections.abc import AsyncIterator
from typing import Any

from services.api.actuals.parsing import Digest, UnsupportedMediaType, lines
from services.common.errors import FieldError, ValidationFailed

FIELDS = ("contract_id", "contract_number", "month", "presented", "accepted", "deduction", "deduction_reason")
REQUIRED = ("month", "presented", "accepted")
CONTRACT_FIELDS = ("contract_id", "contract_number")
# Staging columns, in order: line number, parse error, then the fields.
STAGE_COLUMNS = ("line_no", "parse_error", *FIELDS)
BATCH_ROWS = 5_000

Row = tuple[Any, ...]
Parser = Any

CSV_TYPES = ("text/csv", "application/csv")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines")


def _error_row(line_no: int, field: str, reason: str) -> Row:
    return (line_no, f"{field}|{reason}", *([None] * len(FIELDS)))


def _decode(line_no: int, raw: bytes) -> str | Row:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error_row(line_no, "row", f"not valid UTF-8 (byte {exc.start + 1} of the line: "
                                          f"0x{raw[exc.start]:02x})")


def _csv_header(text: str) -> list[str]:
    header = [h.strip() for h in next(csv.reader([text.lstrip("\ufeff")]))]
    errors = [FieldError(f"header.{h or '(empty)'}", "unknown column") for h in header if h not in FIELDS]
    errors += [FieldError(f"header.{h}", "required column missing") for h in REQUIRED if h not in header]
    if not any(f in header for f in CONTRACT_FIELDS):
        errors.append(FieldError("header.contract_id", "required column missing (or contract_number)"))
    dup = {h for h in header if header.count(h) > 1}
    errors += [FieldError(f"header.{h}", "column given twice") for h in sorted(dup)]
    if errors:
        raise ValidationFailed("the CSV header is not usable; nothing was stored", errors)
    return header


async def csv_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    header: list[str] | None = None
    positions: list[int] = []
    batch: list[Row] = []
    async for block in lines(stream, digest):
        for line_no, raw in block:
            if not raw.strip():
                continue
            text = _decode(line_no, raw)
            if not isinstance(text, str):
                if header is None:
                    raise ValidationFailed("the CSV header is not valid UTF-8; nothing was stored",
                                           [FieldError("header", "not valid UTF-8")])
                batch.append(text)
                continue
            if header is None:
                header = _csv_header(text)
                positions = [header.index(f) if f in header else -1 for f in FIELDS]
                continue
            try:
                cells = next(csv.reader([text], strict=True))
            except csv.Error as exc:
                batch.append(_error_row(line_no, "row", f"malformed CSV: {exc}"))
                continue
            if len(cells) != len(header):
                batch.append(_error_row(line_no, "row", f"expected {len(header)} fields, found {len(cells)}"))
                continue
            batch.append((line_no, None, *[cells[p].strip() if p >= 0 else None for p in positions]))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if header is None:
        raise ValidationFailed("the body holds no CSV header; nothing was stored",
                               [FieldError("body", "empty: a header line is required")])
    if batch:
        yield batch


def _json_row(line_no: int, text: str) -> Row:
    try:
        # Numbers keep their printed text: an amount is never rounded through a float.
        obj = json.loads(text, parse_float=str, parse_int=str)
    except ValueError as exc:
        return _error_row(line_no, "row", f"malformed JSON: {exc}")
    if not isinstance(obj, dict):
        return _error_row(line_no, "row", "each line must be a JSON object")
    for key, value in obj.items():
        if key not in FIELDS:
            return _error_row(line_no, key, "unknown field")
        if value is not None and not isinstance(value, str):
            return _error_row(line_no, key, "expected a string or a number")
    values: list[str | None] = [obj.get(f) for f in FIELDS]
    return (line_no, None, *[v.strip() if v is not None else None for v in values])


async def jsonl_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    batch: list[Row] = []
    async for block in lines(stream, digest):
        for line_no, raw in block:
            if not raw.strip():
                continue
            text = _decode(line_no, raw)
            batch.append(_json_row(line_no, text) if isinstance(text, str) else text)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def parser_for(content_type: str | None) -> Parser:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in CSV_TYPES:
        return csv_rows
    if media in JSONL_TYPES:
        return jsonl_rows
    raise UnsupportedMediaType(
        f"content type {media or '(none)'} is not accepted: send text/csv or application/x-ndjson",
        [FieldError("content-type", "expected text/csv or application/x-ndjson")])
