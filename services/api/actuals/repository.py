"""Set-based SQL of the executed-volume ingestion: staging via COPY, validation and versioned insert in SQL."""

from datetime import date
from typing import Any

import asyncpg

from services.api.actuals.parsing import STAGE_COLUMNS

# One error per failed check, as "field|reason"; the first failing check of a field wins.
_NUM = r"'^[0-9]{1,9}$'"


def _number_check(field: str, required: bool) -> str:
    v = f"k.{field}"
    missing = (f"WHEN {v} IS NULL OR {v} = '' THEN '{field}|required'" if required
               else f"WHEN {v} IS NULL OR {v} = '' THEN NULL")
    return f"""CASE WHEN k.parse_error IS NOT NULL THEN NULL
        {missing}
        WHEN {v} ~ '^-[0-9]+$' THEN '{field}|negative volume ' || {v}
        WHEN {v} !~ '^-?[0-9]+$' THEN '{field}|not a whole number: ' || left({v}, 60)
        WHEN {v} !~ {_NUM} THEN '{field}|too large: ' || left({v}, 60) END"""


def _int(field: str) -> str:
    return f"CASE WHEN s.{field} ~ {_NUM} THEN s.{field}::int END"


def stage_sql(stage: str) -> str:
    cols = ", ".join(f"{c} text" for c in STAGE_COLUMNS[2:])
    return f"CREATE TEMP TABLE {stage} (line_no int, parse_error text, {cols})"


def check_sql(stage: str, checked: str) -> str:
    """Validate every staged row in one pass and look up the current version of its key."""
    return f"""
CREATE TEMP TABLE {checked} AS
WITH typed AS (
  SELECT s.*, r.kato_code AS region_ok, p.code AS profile_ok, o.id AS provider_id,
    CASE WHEN s.month ~ '^(199[1-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])$' THEN (s.month || '-01')::date END AS month_d,
    {_int('treated_cases')} AS tc, {_int('children_cases')} AS cc, {_int('rural_cases')} AS rc,
    {_int('bed_days')} AS bd, {_int('children_bed_days')} AS cbd, {_int('rural_bed_days')} AS rbd
  FROM {stage} s
  LEFT JOIN region r ON r.kato_code = s.region
  LEFT JOIN clinical_profile p ON p.code = s.profile
  LEFT JOIN organisation o ON o.code = s.provider AND o.kind = 'provider'
), keyed AS (
  SELECT t.*,
    CASE WHEN t.parse_error IS NULL AND t.region_ok IS NOT NULL AND t.profile_ok IS NOT NULL AND t.month_d IS NOT NULL
         THEN min(t.line_no) OVER (PARTITION BY t.region, t.profile, t.provider, t.month_d) END AS first_line
  FROM typed t
)
SELECT k.line_no, k.region, k.profile, k.provider_id, k.month_d, k.tc, k.cc, k.rc, k.bd, k.cbd, k.rbd,
  e.id AS cur_id, e.version AS cur_version,
  (e.id IS NOT NULL AND (e.treated_cases, e.children_cases, e.rural_cases, e.bed_days)
      = (k.tc, k.cc, k.rc, k.bd)
      AND e.children_bed_days IS NOT DISTINCT FROM k.cbd AND e.rural_bed_days IS NOT DISTINCT FROM k.rbd) AS same,
  array_remove(ARRAY[
    k.parse_error,
    CASE WHEN k.parse_error IS NULL AND (k.region IS NULL OR k.region = '') THEN 'region|required'
         WHEN k.parse_error IS NULL AND k.region_ok IS NULL THEN 'region|unknown КАТО code ' || left(k.region, 60) END,
    CASE WHEN k.parse_error IS NULL AND (k.profile IS NULL OR k.profile = '') THEN 'profile|required'
         WHEN k.parse_error IS NULL AND k.profile_ok IS NULL
         THEN 'profile|unknown clinical profile ' || left(k.profile, 60) END,
    CASE WHEN k.parse_error IS NULL AND k.provider IS NOT NULL AND k.provider <> '' AND k.provider_id IS NULL
         THEN 'provider|unknown provider ' || left(k.provider, 120) END,
    CASE WHEN k.parse_error IS NULL AND (k.month IS NULL OR k.month = '') THEN 'month|required'
         WHEN k.parse_error IS NULL AND k.month_d IS NULL
         THEN 'month|not a month YYYY-MM between 1991-01 and 2100-12: ' || left(k.month, 60) END,
    {_number_check('treated_cases', True)},
    {_number_check('children_cases', True)},
    {_number_check('rural_cases', True)},
    {_number_check('bed_days', True)},
    {_number_check('children_bed_days', False)},
    {_number_check('rural_bed_days', False)},
    CASE WHEN k.cc > k.tc THEN 'children_cases|' || k.cc || ' children cases exceed ' || k.tc || ' treated cases' END,
    CASE WHEN k.rc > k.tc THEN 'rural_cases|' || k.rc || ' rural cases exceed ' || k.tc || ' treated cases' END,
    CASE WHEN k.cbd > k.bd
         THEN 'children_bed_days|' || k.cbd || ' children bed-days exceed ' || k.bd || ' bed-days' END,
    CASE WHEN k.rbd > k.bd THEN 'rural_bed_days|' || k.rbd || ' rural bed-days exceed ' || k.bd || ' bed-days' END,
    CASE WHEN k.first_line IS NOT NULL AND k.first_line <> k.line_no
         THEN 'row|the same region, profile, provider and month is already on line ' || k.first_line END
  ], NULL) AS errors
FROM keyed k
LEFT JOIN executed_volume e ON e.is_current AND e.region_code = k.region_ok AND e.profile_code = k.profile_ok
     AND e.month = k.month_d AND e.provider_id IS NOT DISTINCT FROM k.provider_id
"""


async def create_stage(conn: asyncpg.Connection, stage: str) -> None:
    await conn.execute(stage_sql(stage))


async def copy_rows(conn: asyncpg.Connection, stage: str, rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(stage, records=rows, columns=list(STAGE_COLUMNS))


async def check(conn: asyncpg.Connection, stage: str, checked: str) -> tuple[int, int]:
    await conn.execute(check_sql(stage, checked))
    row = await conn.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE cardinality(errors) > 0) AS bad FROM {checked}")
    assert row is not None
    return int(row["total"]), int(row["bad"])


async def refused(conn: asyncpg.Connection, checked: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT line_no, errors FROM {checked} WHERE cardinality(errors) > 0 "
                            f"ORDER BY line_no LIMIT {int(limit)}")


async def kept_lines(conn: asyncpg.Connection, checked: str) -> list[asyncpg.Record]:
    """The accepted lines as ranges [first, last] of consecutive line numbers (gaps-and-islands)."""
    return await conn.fetch(f"""
        SELECT min(line_no) AS first, max(line_no) AS last FROM (
          SELECT line_no, line_no - row_number() OVER (ORDER BY line_no) AS grp
          FROM {checked} WHERE cardinality(errors) = 0) x
        GROUP BY grp ORDER BY first""")


async def apply(conn: asyncpg.Connection, checked: str, batch_id: str) -> tuple[int, int, int]:
    """Close the versions being corrected and insert the new ones. Returns (new keys, new versions, unchanged)."""
    counts = await conn.fetchrow(f"""
        SELECT count(*) FILTER (WHERE cur_id IS NULL) AS fresh,
               count(*) FILTER (WHERE cur_id IS NOT NULL AND NOT same) AS corrected,
               count(*) FILTER (WHERE same) AS unchanged
        FROM {checked} WHERE cardinality(errors) = 0""")
    assert counts is not None
    if counts["corrected"]:
        await conn.execute(f"""
            UPDATE executed_volume e SET is_current = false, superseded_by_batch = $1
            FROM {checked} c WHERE e.id = c.cur_id AND cardinality(c.errors) = 0 AND NOT c.same""", batch_id)
    await conn.execute(f"""
        INSERT INTO executed_volume (region_code, profile_code, provider_id, month, treated_cases, children_cases,
            rural_cases, bed_days, children_bed_days, rural_bed_days, version, is_current, batch_id, line_no)
        SELECT region, profile, provider_id, month_d, tc, cc, rc, bd, cbd, rbd, COALESCE(cur_version, 0) + 1, true,
               $1, line_no
        FROM {checked} WHERE cardinality(errors) = 0 AND NOT same""", batch_id)
    return int(counts["fresh"]), int(counts["corrected"]), int(counts["unchanged"])


async def drop(conn: asyncpg.Connection, *tables: str) -> None:
    for t in tables:
        await conn.execute(f"DROP TABLE IF EXISTS {t}")


PLANNED_VS_EXECUTED = """
WITH executed AS (
  SELECT region_code, profile_code, sum(treated_cases) AS cases, sum(children_cases) AS children,
         sum(rural_cases) AS rural, sum(bed_days) AS bed_days, count(DISTINCT month) AS months
  FROM executed_volume
  WHERE is_current AND month BETWEEN $1 AND $2
    AND ($3::text IS NULL OR region_code = $3) AND ($4::text IS NULL OR profile_code = $4)
  GROUP BY region_code, profile_code
)
SELECT cv.region_code, r.name_kk AS region_name_kk, cv.profile_code, p.name_kk AS profile_name_kk,
       cv.total, cv.children, cv.adults, cv.rural_total,
       COALESCE(x.cases, 0) AS cases, COALESCE(x.children, 0) AS exec_children, COALESCE(x.rural, 0) AS exec_rural,
       COALESCE(x.bed_days, 0) AS bed_days, COALESCE(x.months, 0) AS months,
       count(*) OVER () AS full_count
FROM ceiling_volume cv
JOIN region r ON r.kato_code = cv.region_code
JOIN clinical_profile p ON p.code = cv.profile_code
LEFT JOIN executed x ON x.region_code = cv.region_code AND x.profile_code = cv.profile_code
WHERE cv.document_version_id = $5 AND NOT cv.is_region_total
  AND ($3::text IS NULL OR cv.region_code = $3) AND ($4::text IS NULL OR cv.profile_code = $4)
  AND ($6::bool IS NOT TRUE OR COALESCE(x.cases, 0) > COALESCE(cv.total, 0))
ORDER BY cv.position
LIMIT $7 OFFSET $8
"""


async def planned_vs_executed(conn: asyncpg.Connection, first: date, last: date, region: str | None,
                              profile: str | None, version_id: int, over_only: bool, limit: int,
                              offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(PLANNED_VS_EXECUTED, first, last, region, profile, version_id, over_only, limit, offset)


async def executed(conn: asyncpg.Connection, region: str | None, profile: str | None, first: date | None,
                   last: date | None, history: bool, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch("""
        SELECT e.*, o.code AS provider_code, count(*) OVER () AS full_count FROM executed_volume e
        LEFT JOIN organisation o ON o.id = e.provider_id
        WHERE ($1::text IS NULL OR e.region_code = $1) AND ($2::text IS NULL OR e.profile_code = $2)
          AND ($3::date IS NULL OR e.month >= $3) AND ($4::date IS NULL OR e.month <= $4)
          AND ($5 OR e.is_current)
        ORDER BY e.region_code, e.profile_code, e.month, e.provider_id NULLS FIRST, e.version
        LIMIT $6 OFFSET $7""", region, profile, first, last, history, limit, offset)
