"""The staging and checked tables of an upload: temporary tables, filled by COPY, read back set-based.

A checked table holds a row per staged line with `line_no` and `errors` (text[] of "field|reason", empty when the
row is valid); the rest of its columns are the upload's own.
"""

from collections.abc import Sequence
from typing import Any

import asyncpg

from services.common.db import driver_connection

# The asyncpg connection under the session: COPY and the set-based SQL go straight to it.
driver = driver_connection


def stage_columns(fields: Sequence[str]) -> list[str]:
    """The staging columns, in order: line number, parse error, then the fields."""
    return ["line_no", "parse_error", *fields]


def fields_stage_sql(stage: str, fields: Sequence[str], line_type: str = "bigint") -> str:
    """The staging table of parsed rows: line number, parse error, the fields as text."""
    cols = ", ".join(f"{c} text" for c in fields)
    return f"CREATE TEMP TABLE {stage} (line_no {line_type}, parse_error text, {cols})"


async def create_fields_stage(
    conn: asyncpg.Connection, stage: str, fields: Sequence[str], line_type: str = "bigint"
) -> None:
    await conn.execute(fields_stage_sql(stage, fields, line_type))


async def copy_rows(conn: asyncpg.Connection, stage: str, fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(stage, records=rows, columns=stage_columns(fields))


async def refused(conn: asyncpg.Connection, checked: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT line_no, errors FROM {checked} WHERE cardinality(errors) > 0 ORDER BY line_no LIMIT {int(limit)}"
    )


async def kept_lines(conn: asyncpg.Connection, checked: str) -> list[asyncpg.Record]:
    """The accepted lines as ranges [first, last] of consecutive line numbers (gaps-and-islands)."""
    return await conn.fetch(f"""
        SELECT min(line_no) AS first, max(line_no) AS last FROM (
          SELECT line_no, line_no - row_number() OVER (ORDER BY line_no) AS grp
          FROM {checked} WHERE cardinality(errors) = 0) x
        GROUP BY grp ORDER BY first""")


async def drop(conn: asyncpg.Connection, *tables: str) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")


async def version_counts(conn: asyncpg.Connection, checked: str) -> tuple[int, int, int]:
    """Of the kept rows of a checked table with `cur_id` (the current row of their key, if any) and `same` (equal to
    it): how many are new, new versions, unchanged."""
    row = await conn.fetchrow(f"""
        SELECT count(*) FILTER (WHERE cur_id IS NULL) AS fresh,
               count(*) FILTER (WHERE cur_id IS NOT NULL AND NOT same) AS corrected,
               count(*) FILTER (WHERE same) AS unchanged
        FROM {checked} WHERE cardinality(errors) = 0""")
    assert row is not None
    return int(row["fresh"]), int(row["corrected"]), int(row["unchanged"])


async def close_corrected(conn: asyncpg.Connection, checked: str, table: str, batch_id: str) -> None:
    """Close the current rows of `table` that kept rows of the checked table correct, naming the batch."""
    await conn.execute(
        f"""
        UPDATE {table} e SET is_current = false, superseded_by_batch = $1
        FROM {checked} c WHERE e.id = c.cur_id AND cardinality(c.errors) = 0 AND NOT c.same""",
        batch_id,
    )
