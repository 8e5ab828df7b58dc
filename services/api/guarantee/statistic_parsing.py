"""The fields of a streamed CSV or JSON Lines body of reference statistics, as rows of text for the staging table.

Reading the body (lines, digest, UTF-8, CSV and JSON Lines batches) is the bulk toolkit's (`services.api.bulk`);
the fields are here. Values stay text (a value is never turned into a float): the database validates them
set-based. A row that cannot even be split into fields (bad UTF-8, wrong field count, malformed JSON, unknown
field) carries a `parse_error` "field|reason".
"""

import json
from collections.abc import AsyncIterator, Callable

from services.api.bulk import rows
from services.api.bulk.stream import Digest, Row, body_format, csv_header, error_row

FIELDS = ("region", "year", "code", "value")
BATCH_ROWS = 5_000

Parser = Callable[[AsyncIterator[bytes], Digest], AsyncIterator[list[Row]]]


def _csv_header(text: str) -> list[str]:
    return csv_header(text, FIELDS, FIELDS)


def csv_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return rows.csv_rows(stream, digest, fields=FIELDS, header=_csv_header, batch_rows=BATCH_ROWS)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _json_row(line_no: int, text: str) -> Row:
    try:
        # Numbers keep their printed text: a value is never rounded through a float (nor NaN or Infinity taken).
        obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=_no_constant)
    except ValueError as exc:
        return error_row(line_no, f"row|malformed JSON: {exc}", len(FIELDS))
    if not isinstance(obj, dict):
        return error_row(line_no, "row|each line must be a JSON object", len(FIELDS))
    for key, value in obj.items():
        if key not in FIELDS:
            return error_row(line_no, f"{key}|unknown field", len(FIELDS))
        if value is not None and not isinstance(value, str):
            return error_row(line_no, f"{key}|expected a string or a number", len(FIELDS))
    values: list[str | None] = [obj.get(f) for f in FIELDS]
    return (line_no, None, *[v.strip() if v is not None else None for v in values])


def jsonl_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return rows.jsonl_rows(stream, digest, width=len(FIELDS), row=_json_row, batch_rows=BATCH_ROWS)


def parser_for(content_type: str | None) -> Parser:
    return csv_rows if body_format(content_type) == "csv" else jsonl_rows
