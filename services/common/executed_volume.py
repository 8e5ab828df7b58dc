"""Where the rows of executed volumes live: one table per upload in schema executed_volume_batch, attached as the
upload's partition of executed_volume (see the table in services.common.models.guarantee). The API writes them;
the report worker builds the index that serves reads once an upload is in (`read_index`), so that the upload itself
maintains nothing row by row."""

import asyncpg


def partition(batch_no: int) -> str:
    """The table of an upload's rows."""
    return f"executed_volume_batch.b{int(batch_no)}"


async def read_index(conn: asyncpg.Connection, batch_no: int) -> bool:
    """Build the index of an upload's partition that serves reads of rows by region, profile and month, in the order
    the API lists them (so that a page is a merge of the partitions' indexes, not a sort); False when the upload has
    no partition (nothing kept) or the index is there already."""
    table, n = partition(batch_no), int(batch_no)
    missing = await conn.fetchval(
        "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NULL", table, f"executed_volume_batch.b{n}_read"
    )
    if missing:
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS b{n}_read ON {table} "
            "(region_code, profile_code, month, provider_code NULLS FIRST, version)"
        )
    return bool(missing)


async def unindexed_partitions(conn: asyncpg.Connection) -> list[int]:
    """The numbers of attached upload partitions that have no read index yet, oldest first."""
    rows = await conn.fetch("""
        SELECT substr(c.relname, 2)::int AS batch_no FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE i.inhparent = 'executed_volume'::regclass AND s.nspname = 'executed_volume_batch'
          AND to_regclass('executed_volume_batch.' || c.relname || '_read') IS NULL
        ORDER BY 1""")
    return [r["batch_no"] for r in rows]
