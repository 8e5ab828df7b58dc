"""The fields of a streamed CSV or JSON Lines body of reference statistics, as rows of text for the staging table.

Reading the body (lines, digest, UTF-8, CSV and JSON Lines batches) is the bulk toolkit's (`services.api.bulk`);
the fields are here. Values stay text (a value is never turned into a float): the database validates them
set-based. A row that cannot even be split into fields (bad UTF-8, wrong field count, malformed JSON, unknown
field) carries a `parse_error` "field|reason".
"""

from collections.abc import AsyncIterator, Callable

from services.api.bulk import rows
from services.api.bulk.stream import Digest, Row, body_format, csv_header

FIELDS = ("region", "year", "code", "value")
BATCH_ROWS = 5_000

Parser = Callable[[AsyncIterator[bytes], Digest], AsyncIterator[list[Row]]]


def _csv_header(text: str) -> list[str]:
    return csv_header(text, FIELDS, FIELDS)


def csv_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return rows.csv_rows(stream, digest, fields=FIELDS, header=_csv_header, batch_rows=BATCH_ROWS)


def _json_row(line_no: int, text: str) -> Row:
    return rows.json_text_row(line_no, text, FIELDS)


def jsonl_rows(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return rows.jsonl_rows(stream, digest, width=len(FIELDS), row=_json_row, batch_rows=BATCH_ROWS)


def parser_for(content_type: str | None) -> Parser:
    return csv_rows if body_format(content_type) == "csv" else jsonl_rows
