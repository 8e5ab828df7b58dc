"""Migration 0008 moves stored executed volumes into partitions of their uploads, and the downgrade moves them back."""

import asyncio
from typing import Any

import asyncpg
from alembic import command

from tests.conftest import alembic_config, create_database, drop_database

OLD_ROWS = """
INSERT INTO region (kato_code, name_kk, kind, position) VALUES ('710000000', 'Астана қаласы', 'city', 1);
INSERT INTO clinical_profile (code, name_kk, position) VALUES ('cardiology', 'Кардиологиялық', 1);
INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list)
VALUES ('«Мед» ЖШС', '«Мед» ЖШС', 'provider', false);
INSERT INTO ingest_batch (batch_id, kind, mode, content_type, content_sha256, rows_total, rows_accepted,
    rows_rejected, rows_new_version, rows_unchanged, result, received_at)
VALUES ('old-1', 'executed_volumes', 'per_row', 'text/csv', 'a', 2, 2, 0, 0, 0, '{}', '2026-02-01T10:00:00Z'),
       ('old-2', 'executed_volumes', 'per_row', 'text/csv', 'b', 1, 1, 0, 1, 0, '{}', '2026-03-01T10:00:00Z');
INSERT INTO executed_volume (id, region_code, profile_code, provider_id, month, treated_cases, children_cases,
    rural_cases, bed_days, children_bed_days, rural_bed_days, version, is_current, batch_id, line_no,
    superseded_by_batch)
VALUES (1, '710000000', 'cardiology', NULL, '2026-01-01', 10, 1, 0, 70, NULL, NULL, 1, false, 'old-1', 2, 'old-2'),
       (2, '710000000', 'cardiology', (SELECT id FROM organisation), '2026-01-01', 5, 0, 0, 30, 0, NULL, 1, true,
        'old-1', 3, NULL),
       (3, '710000000', 'cardiology', NULL, '2026-01-01', 12, 1, 0, 80, NULL, NULL, 2, true, 'old-2', 2, NULL);
"""

OLD_SHAPE = """SELECT e.batch_id, e.line_no, o.code AS provider, e.month, e.treated_cases, e.version, e.is_current,
       e.superseded_by_batch FROM executed_volume e LEFT JOIN organisation o ON o.id = e.provider_id
ORDER BY 1, 2"""
NEW_SHAPE = """SELECT b.batch_id, e.line_no, e.provider_code AS provider, e.month, e.treated_cases, e.version,
       e.is_current, s.batch_id AS superseded_by_batch
FROM executed_volume e JOIN ingest_batch b USING (batch_no) LEFT JOIN ingest_batch s ON s.batch_no = e.superseded_by
ORDER BY 1, 2"""


async def _run(url: str, sql: str, fetch: bool = False) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)] if fetch else await conn.execute(sql)
    finally:
        await conn.close()


def test_rows_move_into_partitions_and_back() -> None:
    url = create_database("migrations0008")
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "0007")
        asyncio.run(_run(url, OLD_ROWS))
        before = asyncio.run(_run(url, OLD_SHAPE, fetch=True))
        command.upgrade(cfg, "0008")
        assert asyncio.run(_run(url, NEW_SHAPE, fetch=True)) == before
        partitions = asyncio.run(
            _run(
                url,
                """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'executed_volume'::regclass ORDER BY 1""",
                fetch=True,
            )
        )
        assert len(partitions) == 2
        cells = asyncio.run(
            _run(
                url,
                "SELECT b.batch_id, c.rows, c.current_rows, c.treated_cases "
                "FROM executed_volume_cell c JOIN ingest_batch b USING (batch_no) ORDER BY 1",
                fetch=True,
            )
        )
        assert cells == [("old-1", 2, 1, 5), ("old-2", 1, 1, 12)]
        command.downgrade(cfg, "0007")
        assert asyncio.run(_run(url, OLD_SHAPE, fetch=True)) == before
        recorded = asyncio.run(
            _run(url, "SELECT batch_id, recorded_at::date FROM executed_volume ORDER BY id", fetch=True)
        )
        assert [(b, d.isoformat()) for b, d in recorded] == [
            ("old-1", "2026-02-01"),
            ("old-1", "2026-02-01"),
            ("old-2", "2026-03-01"),
        ]
    finally:
        drop_database(url)
