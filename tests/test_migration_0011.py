"""Migration 0011 moves the executed volumes of every upload's partition into the one table, and the downgrade moves
them back into partitions of their uploads with their per-upload references."""

import asyncio
from typing import Any

import asyncpg
from alembic import command

from tests.conftest import alembic_config, create_database, drop_database
from tests.test_migration_0008 import OLD_ROWS

ROWS = """SELECT b.batch_id, e.line_no, e.region_code, e.profile_code, e.provider_code, e.month, e.treated_cases,
       e.children_cases, e.bed_days, e.children_bed_days, e.version, e.is_current, s.batch_id AS superseded_by_batch
FROM executed_volume e JOIN ingest_batch b USING (batch_no) LEFT JOIN ingest_batch s ON s.batch_no = e.superseded_by
ORDER BY 1, 2"""
PARTITIONS = """SELECT count(*) FROM pg_inherits WHERE inhparent = 'executed_volume'::regclass"""
TABLES = """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"""
PER_UPLOAD_CELLS = """SELECT b.batch_id, c.rows, c.current_rows, c.treated_cases
FROM executed_volume_cell c JOIN ingest_batch b USING (batch_no) ORDER BY 1"""


async def _run(url: str, sql: str, fetch: bool = False) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)] if fetch else await conn.execute(sql)
    finally:
        await conn.close()


def _fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    return list(asyncio.run(_run(url, sql, fetch=True)))


def test_partitions_move_into_one_table_and_back() -> None:
    url = create_database("migrations0011")
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "0007")
        asyncio.run(_run(url, OLD_ROWS))
        command.upgrade(cfg, "0010")  # 0008 puts the rows into partitions of their two uploads
        before = _fetch(url, ROWS)
        assert len(before) == 3 and _fetch(url, PARTITIONS) == [(2,)]
        cells_before = _fetch(url, PER_UPLOAD_CELLS)
        providers_before = _fetch(url, "SELECT batch_no, provider_code FROM executed_volume_provider ORDER BY 1, 2")

        command.upgrade(cfg, "0011")
        assert _fetch(url, ROWS) == before
        assert _fetch(url, "SELECT relkind::text FROM pg_class WHERE oid = 'executed_volume'::regclass") == [("r",)]
        assert _fetch(url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'executed_volume_batch'") == [(0,)]
        assert _fetch(url, "SELECT to_regclass('executed_volume_provider') IS NULL") == [(True,)]
        tables = _fetch(url, TABLES)
        # One cell of totals for the region × profile × month: two rows current (versions 2 and the provider's).
        assert _fetch(
            url,
            "SELECT region_code, profile_code, month::text, rows, current_rows, treated_cases, children_cases, "
            "bed_days FROM executed_volume_cell",
        ) == [("710000000", "cardiology", "2026-01-01", 3, 2, 17, 1, 110)]
        # The moved rows are under the new key and foreign keys: a second current row of a key is refused.
        duplicate = """INSERT INTO executed_volume (batch_no, line_no, region_code, profile_code, month, treated_cases,
            children_cases, rural_cases, bed_days, version)
            SELECT batch_no, 9, region_code, profile_code, month, 1, 0, 0, 1, 3 FROM executed_volume
            WHERE is_current AND provider_code IS NULL"""
        try:
            asyncio.run(_run(url, duplicate))
            raise AssertionError("a second current row of a key was taken")
        except asyncpg.UniqueViolationError as exc:
            assert "uq_executed_volume_current" in str(exc)
        fk = "UPDATE executed_volume SET provider_code = 'nobody' WHERE provider_code IS NOT NULL"
        try:
            asyncio.run(_run(url, fk))
            raise AssertionError("a provider that does not exist was taken")
        except asyncpg.ForeignKeyViolationError:
            pass
        assert _fetch(url, TABLES) == tables

        command.downgrade(cfg, "0010")
        assert _fetch(url, ROWS) == before
        assert _fetch(url, PARTITIONS) == [(2,)]
        assert _fetch(url, PER_UPLOAD_CELLS) == cells_before == [("old-1", 2, 1, 5), ("old-2", 1, 1, 12)]
        assert _fetch(url, "SELECT batch_no, provider_code FROM executed_volume_provider ORDER BY 1, 2") == (
            providers_before
        )
        # Each partition has its key index back, as 0008 builds it.
        assert _fetch(
            url,
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'executed_volume_batch' AND indexname LIKE 'b%_key'",
        ) == [(2,)]
        command.downgrade(cfg, "0007")  # and 0008's downgrade still takes them back to the table before it
        assert len(_fetch(url, "SELECT * FROM executed_volume")) == 3
    finally:
        drop_database(url)
