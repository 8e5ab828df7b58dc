"""Set-based SQL of the bulk upload of reference statistics: validation in one pass, versioned insert.

The staging table, COPY, the refused and kept lines and the clean-up are the bulk toolkit's
(`services.api.bulk.staging`)."""

import asyncpg

from services.api.bulk import staging
from services.api.guarantee.schemas import StatisticCode

# numeric(20, 4): up to 16 digits before the point (leading zeros aside) and 4 after it.
_VALUE = r"'^0*[0-9]{1,16}(\.[0-9]{1,4})?$'"
_CODES = "ARRAY[" + ", ".join(f"'{c.value}'" for c in StatisticCode) + "]::text[]"


def check_sql(stage: str, checked: str) -> str:
    """Validate every staged row, resolve its region and find the current value it would correct."""
    return f"""
CREATE TEMP TABLE {checked} AS
WITH typed AS (
  SELECT s.*,
    CASE WHEN s.year ~ '^0*[0-9]{{1,4}}$' THEN s.year::int END AS year_n,
    CASE WHEN s.value ~ {_VALUE} THEN s.value::numeric(20, 4) END AS value_n
  FROM {stage} s
), keyed AS (
  SELECT t.*, r.kato_code AS known_region,
    CASE WHEN t.parse_error IS NULL AND r.kato_code IS NOT NULL AND t.year_n BETWEEN 1991 AND 2100
              AND t.code = ANY({_CODES})
         THEN min(t.line_no) OVER (PARTITION BY t.region, t.year_n, t.code) END AS first_line
  FROM typed t LEFT JOIN region r ON r.kato_code = t.region
)
SELECT k.line_no, k.known_region AS region, k.year_n AS year, k.code, k.value_n AS value,
  e.id AS cur_id, e.version AS cur_version, (e.id IS NOT NULL AND e.value = k.value_n) AS same,
  array_remove(ARRAY[
    k.parse_error,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.region IS NULL OR k.region = '' THEN 'region|required'
         WHEN k.known_region IS NULL THEN 'region|unknown КАТО code ' || left(k.region, 60) END,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.year IS NULL OR k.year = '' THEN 'year|required'
         WHEN k.year !~ '^-?[0-9]+$' THEN 'year|not an integer: ' || left(k.year, 60)
         WHEN k.year_n IS NULL OR k.year_n NOT BETWEEN 1991 AND 2100
         THEN 'year|' || left(k.year, 60) || ' is not between 1991 and 2100' END,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.code IS NULL OR k.code = '' THEN 'code|required'
         WHEN NOT k.code = ANY({_CODES}) THEN 'code|unknown statistic code ' || left(k.code, 60) END,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.value IS NULL OR k.value = '' THEN 'value|required'
         WHEN k.value ~ '^-[0-9]+(\\.[0-9]+)?$' THEN 'value|negative value ' || left(k.value, 60)
         WHEN k.value ~ '^[0-9]+\\.[0-9]{{5,}}$' THEN 'value|more than four decimals: ' || left(k.value, 60)
         WHEN k.value !~ '^[0-9]+(\\.[0-9]+)?$'
         THEN 'value|not a number (digits, a point and up to four decimals): ' || left(k.value, 60)
         WHEN k.value_n IS NULL
         THEN 'value|too large for numeric(20,4) (more than 16 digits before the point): ' || left(k.value, 60) END,
    CASE WHEN k.first_line IS NOT NULL AND k.first_line <> k.line_no
         THEN 'row|the same region, year and code is already on line ' || k.first_line END
  ], NULL) AS errors
FROM keyed k
LEFT JOIN reference_statistic e ON e.is_current AND e.region_code = k.known_region AND e.year = k.year_n
     AND e.code = k.code
"""


async def check(conn: asyncpg.Connection, stage: str, checked: str) -> tuple[int, int]:
    await conn.execute(check_sql(stage, checked))
    row = await conn.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE cardinality(errors) > 0) AS bad FROM {checked}"
    )
    assert row is not None
    return int(row["total"]), int(row["bad"])


async def apply(
    conn: asyncpg.Connection, checked: str, account: str, batch_id: str, source: str, synthetic: bool
) -> tuple[int, int, int]:
    """Close the values being corrected and insert the new versions. Returns (new, new versions, unchanged)."""
    fresh, corrected, unchanged = await staging.version_counts(conn, checked)
    if corrected:
        await staging.close_corrected(conn, checked, "reference_statistic", batch_id)
    await conn.execute(
        f"""
        INSERT INTO reference_statistic (region_code, year, code, value, source, is_synthetic, version, is_current,
            batch_account, batch_id, line_no)
        SELECT region, year, code, value, $2, $3, COALESCE(cur_version, 0) + 1, true, $4, $1, line_no
        FROM {checked} WHERE cardinality(errors) = 0 AND NOT same""",
        batch_id,
        source,
        synthetic,
        account,
    )
    return fresh, corrected, unchanged
