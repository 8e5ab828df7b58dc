"""Bulk upload of indicator actuals from official statistics (CSV or JSON Lines, streamed), by an integration
account: the bulk toolkit's flow (`services.api.bulk.staged`), as for reference statistics.

Fields: `indicator` (its number in the document), `year`, `value` (a figure such as `19.5`, or a ratio such as
`2.2:1`) or, when there is none, `no_data_reason`. `source` (required) is stored on every row the upload adds.

Each kept row is the next version of its indicator and year. Where the rule in force today wants review it is
`submitted` (the ministry accepts or returns it); otherwise `accepted` and it counts at once. A row equal to the
current version (same figures, reason and source, and already submitted or accepted) is unchanged, whatever
the state a new version would take. An upload follows whatever version is current, a filer's draft included: the
draft stays in the history.
"""

from collections.abc import AsyncIterator, Callable
from datetime import date

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.achievement.schemas import IndicatorActualBatchResult
from services.api.bulk import batches, rows, staging
from services.api.bulk.staged import StagedUpload
from services.api.bulk.stream import Digest, Row, body_format, csv_header
from services.common.models.achievement import IndicatorActualBatch
from services.common.models.guarantee import BatchMode
from services.common.validity import in_force_sql

KIND = "indicator_actuals"
FIELDS = ("indicator", "year", "value", "no_data_reason")
REQUIRED = ("indicator", "year")
BATCH_ROWS = 5_000

_NUM = r"0*[0-9]{1,16}(\.[0-9]{1,4})?"
_VALUE = rf"'^{_NUM}$'"
_RATIO = rf"'^{_NUM}:{_NUM}$'"
# Text with nothing printable: spaces, control and format characters (zero-width, direction marks, the BOM) only;
# what `services.common.bounds.check_text` refuses in a single entry.
_NO_TEXT = (
    r"'^[\s\u0001-\u001f\u007f-\u00a0\u00ad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064"
    r"\u2066-\u206f\u3000\ufeff\ufff9-\ufffb]*$'"
)

Parser = Callable[[AsyncIterator[bytes], Digest], AsyncIterator[list[Row]]]


def _csv_header(text: str) -> list[str]:
    return csv_header(text, FIELDS, REQUIRED)


def _csv(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return rows.csv_rows(stream, digest, fields=FIELDS, header=_csv_header, batch_rows=BATCH_ROWS)


def _json_row(line_no: int, text: str) -> Row:
    return rows.json_text_row(line_no, text, FIELDS)


def _jsonl(stream: AsyncIterator[bytes], digest: Digest) -> AsyncIterator[list[Row]]:
    return rows.jsonl_rows(stream, digest, width=len(FIELDS), row=_json_row, batch_rows=BATCH_ROWS)


def parser_for(content_type: str | None) -> Parser:
    return _csv if body_format(content_type) == "csv" else _jsonl


def check_sql(stage: str, checked: str, document_id: int, source_param: str, today_param: str) -> str:
    """Validate every staged row, resolve its indicator, read its value or ratio, the state it will take (the rule in
    force today) and the current version it would follow."""
    return f"""
CREATE TEMP TABLE {checked} AS
WITH typed AS (
  SELECT s.*,
    CASE WHEN s.indicator ~ '^0*[0-9]{{1,6}}$' THEN s.indicator::int END AS number_n,
    CASE WHEN s.year ~ '^0*[0-9]{{1,4}}$' THEN s.year::int END AS year_n,
    CASE WHEN s.value ~ {_VALUE} THEN 'value'
         WHEN s.value ~ {_RATIO} THEN 'ratio'
         WHEN coalesce(s.value, '') = '' AND coalesce(s.no_data_reason, '') <> '' THEN 'no_data' END AS kind_t
  FROM {stage} s
), keyed AS (
  SELECT t.*, i.id AS indicator_id,
    CASE WHEN t.kind_t = 'value' THEN t.value::numeric(20, 4)
         WHEN t.kind_t = 'ratio' THEN split_part(t.value, ':', 1)::numeric(20, 4) END AS value_n,
    CASE WHEN t.kind_t = 'ratio' THEN split_part(t.value, ':', 2)::numeric(20, 4) END AS consequent_n,
    (SELECT min(it.year) FROM indicator_target it WHERE it.indicator_id = i.id) AS first_year,
    (SELECT max(it.year) FROM indicator_target it WHERE it.indicator_id = i.id) AS last_year,
    CASE WHEN t.parse_error IS NULL AND i.id IS NOT NULL AND t.year_n IS NOT NULL
         THEN min(t.line_no) OVER (PARTITION BY i.id, t.year_n) END AS first_line
  FROM typed t LEFT JOIN indicator i ON i.document_id = {int(document_id)} AND i.number = t.number_n
)
SELECT k.line_no, k.indicator_id, k.year_n AS year, k.kind_t AS kind, k.value_n AS value,
  k.consequent_n AS ratio_consequent, CASE WHEN k.kind_t = 'no_data' THEN k.no_data_reason END AS no_data_reason,
  CASE WHEN coalesce(r.requires_review, false) THEN 'submitted' ELSE 'accepted' END AS state,
  e.id AS cur_id, e.version AS cur_version,
  (e.id IS NOT NULL AND e.state IN ('submitted', 'accepted') AND e.kind::text = k.kind_t
   AND e.value IS NOT DISTINCT FROM k.value_n AND e.ratio_consequent IS NOT DISTINCT FROM k.consequent_n
   AND e.no_data_reason IS NOT DISTINCT FROM (CASE WHEN k.kind_t = 'no_data' THEN k.no_data_reason END)
   AND e.source = {source_param}) AS same,
  array_remove(ARRAY[
    k.parse_error,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.indicator IS NULL OR k.indicator = '' THEN 'indicator|required'
         WHEN k.indicator_id IS NULL THEN 'indicator|no target indicator ' || left(k.indicator, 60)
              || ' in the document' END,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.year IS NULL OR k.year = '' THEN 'year|required'
         WHEN k.year_n IS NULL THEN 'year|not a year: ' || left(k.year, 60)
         WHEN k.indicator_id IS NOT NULL AND NOT k.year_n BETWEEN k.first_year AND k.last_year
         THEN 'year|' || k.year_n || ' is outside the document''s years ' || k.first_year || '–' || k.last_year END,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN coalesce(k.value, '') = '' AND coalesce(k.no_data_reason, '') = ''
         THEN 'value|required (or no_data_reason when there is no figure)'
         WHEN coalesce(k.value, '') <> '' AND coalesce(k.no_data_reason, '') <> ''
         THEN 'no_data_reason|given with a value: a row holds a figure or a reason, not both'
         WHEN k.kind_t IS NULL
         THEN 'value|not a figure (digits, a point, up to four decimals) nor a ratio a:b: ' || left(k.value, 60)
         WHEN k.kind_t = 'ratio' AND k.consequent_n = 0 THEN 'value|a ratio''s second term must not be 0'
         WHEN k.kind_t = 'no_data' AND k.no_data_reason ~ {_NO_TEXT}
         THEN 'no_data_reason|must contain printable text, not only control characters'
         WHEN k.kind_t = 'no_data' AND length(k.no_data_reason) > 2000 THEN 'no_data_reason|longer than 2000' END,
    CASE WHEN k.first_line IS NOT NULL AND k.first_line <> k.line_no
         THEN 'row|the same indicator and year is already on line ' || k.first_line END
  ], NULL) AS errors
FROM keyed k
LEFT JOIN indicator_actual e ON e.indicator_id = k.indicator_id AND e.year = k.year_n AND e.valid_to IS NULL
LEFT JOIN indicator_rule r ON r.indicator_id = k.indicator_id AND {in_force_sql("r", today_param)}
"""


def upload(document_id: int, source: str, today: date) -> StagedUpload[IndicatorActualBatchResult]:
    async def check(conn: asyncpg.Connection, stage: str, checked: str) -> tuple[int, int]:
        # CREATE TABLE AS takes no parameters: the source and the day reach it through a one-row helper table.
        await conn.execute(f"CREATE TEMP TABLE {checked}_p (source text, today date)")
        await conn.execute(f"INSERT INTO {checked}_p VALUES ($1, $2)", source, today)
        await conn.execute(
            check_sql(
                stage, checked, document_id, f"(SELECT source FROM {checked}_p)", f"(SELECT today FROM {checked}_p)"
            )
        )
        await conn.execute(f"DROP TABLE {checked}_p")
        row = await conn.fetchrow(
            f"SELECT count(*) AS total, count(*) FILTER (WHERE cardinality(errors) > 0) AS bad FROM {checked}"
        )
        assert row is not None
        return int(row["total"]), int(row["bad"])

    return StagedUpload(KIND, IndicatorActualBatch, IndicatorActualBatchResult, FIELDS, check)


async def apply(
    conn: asyncpg.Connection, checked: str, account: str, batch_id: str, source: str, today: date, who: str
) -> tuple[int, int, int]:
    """Close the versions being followed and insert the new ones. Returns (new, new versions, unchanged)."""
    fresh, corrected, unchanged = await staging.version_counts(conn, checked)
    if corrected:
        await conn.execute(
            f"""
            UPDATE indicator_actual e SET valid_to = $1
            FROM {checked} c WHERE e.id = c.cur_id AND cardinality(c.errors) = 0 AND NOT c.same""",
            today,
        )
    await conn.execute(
        f"""
        INSERT INTO indicator_actual (indicator_id, year, version, state, kind, value, ratio_consequent,
            no_data_reason, source, origin, batch_account, batch_id, line_no, valid_from, recorded_by)
        SELECT indicator_id, year, COALESCE(cur_version, 0) + 1, state::review_state, kind::actual_kind, value,
            ratio_consequent, no_data_reason, $2, 'upload', $3, $1, line_no, $4, $5
        FROM {checked} WHERE cardinality(errors) = 0 AND NOT same""",
        batch_id,
        source,
        account,
        today,
        who,
    )
    return fresh, corrected, unchanged


async def ingest(
    session: AsyncSession,
    *,
    document_id: int,
    account: str,
    batch_id: str,
    mode: BatchMode,
    source: str,
    today: date,
    content_type: str | None,
    stream: AsyncIterator[bytes],
) -> IndicatorActualBatchResult:
    parse = parser_for(content_type)

    async def _apply(conn: asyncpg.Connection, checked: str) -> tuple[int, int, int]:
        return await apply(conn, checked, account, batch_id, source, today, account)

    return await upload(document_id, source, today).take_in(
        session,
        account=account,
        batch_id=batch_id,
        mode=mode,
        content_type=content_type,
        stream=stream,
        parse=parse,
        apply=_apply,
    )


async def batch(session: AsyncSession, account: str, batch_id: str) -> IndicatorActualBatchResult:
    return await batches.stored(
        session,
        IndicatorActualBatch,
        IndicatorActualBatchResult,
        account,
        batch_id,
        f"no indicator actuals batch {batch_id}",
    )
