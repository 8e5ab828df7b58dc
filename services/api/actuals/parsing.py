"""Incremental parsing of a streamed CSV or JSON Lines body into rows of text for the staging table.

Nothing is read whole into memory: the body arrives in chunks, complete lines are parsed, and rows are handed
on in bounded batches. Values stay text here; the database validates them (set-based, in SQL). A row that cannot
even be split into fields (bad encoding, wrong field count, malformed JSON) carries a `parse_error`.
"""

import csv
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from services.common.errors import DomainError, FieldError, ValidationFailed

FIELDS = ("region", "profile", "provider", "month", "treated_cases", "children_cases", "rural_cases",
          "bed_days", "children_bed_days", "rural_bed_days")
REQUIRED = ("region", "profile", "month", "treated_cases", "children_cases", "rural_cases", "bed_days")
NUMBER_FIELDS = frozenset(("treated_cases", "children_cases", "rural_cases", "bed_days", "children_bed_days",
                           "rural_bed_days"))
# Staging columns, in order: line number, parse error, then the fields.
STAGE_COLUMNS = ("line_no", "parse_error", *FIELDS)
BATCH_ROWS = 20_000

Row = tuple[Any, ...]


class UnsupportedMediaType(DomainError):
    status_code = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


def _error_row(line_no: int, field: str, reason: str) -> Row:
    return (line_no, f"{field}|{reason}", *([None] * len(FIELDS)))


class Digest:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.bytes = 0

    def update(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.bytes += len(chunk)

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


async def lines(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[tuple[int, bytes]]]:
    """Complete lines (without the line break) with their 1-based numbers, in blocks as the chunks arrive."""
    rest = b""
    line_no = 0
    async for chunk in stream:
        if not chunk:
            continue
        digest.update(chunk)
        data = rest + chunk
        parts = data.split(b"\n")
        rest = parts.pop()
        block = []
        for part in parts:
            line_no += 1
            block.append((line_no, part[:-1] if part.endswith(b"\r") else part))
        if block:
            yield block
    if rest:
        yield [(line_no + 1, rest[:-1] if rest.endswith(b"\r") else rest)]


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
    dup = {h for h in header if header.count(h) > 1}
    errors += [FieldError(f"header.{h}", "column given twice") for h in sorted(dup)]
    if errors:
        raise ValidationFailed("the CSV header is not usable; nothing was stored", errors)
    return header


async def csv_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    header: list[str] | None = None
    positions: list[int] = []
    width = 0
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
                width = len(header)
                positions = [header.index(f) if f in header else -1 for f in FIELDS]
                continue
            if '"' in text:
                try:
                    cells = next(csv.reader([text], strict=True))
                except csv.Error as exc:
                    batch.append(_error_row(line_no, "row", f"malformed CSV: {exc}"))
                    continue
            else:
                cells = text.split(",")
            if len(cells) != width:
                batch.append(_error_row(line_no, "row", f"expected {width} fields, found {len(cells)}"))
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


def _json_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return orjson.dumps(value).decode()


async def jsonl_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    batch: list[Row] = []
    known = set(FIELDS)
    async for block in lines(stream, digest):
        for line_no, raw in block:
            if not raw.strip():
                continue
            text = _decode(line_no, raw)
            if not isinstance(text, str):
                batch.append(text)
                continue
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                batch.append(_error_row(line_no, "row", f"malformed JSON: {exc}"))
                continue
            if not isinstance(obj, dict):
                batch.append(_error_row(line_no, "row", "each line must be a JSON object"))
                continue
            unknown = [k for k in obj if k not in known]
            if unknown:
                batch.append(_error_row(line_no, unknown[0], "unknown field"))
                continue
            batch.append((line_no, None, *[_json_value(obj.get(f)) for f in FIELDS]))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def parser_for(content_type: str | None) -> Any:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return csv_rows
    if media in ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines"):
        return jsonl_rows
    raise UnsupportedMediaType(
        f"content type {media or '(none)'} is not accepted: send text/csv or application/x-ndjson",
        [FieldError("content-type", "expected text/csv or application/x-ndjson")])
