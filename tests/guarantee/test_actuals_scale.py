"""Executed volumes at scale: 2 000 small uploads leave as many tables as one upload of the same months did, and the
list's first page and planned against executed answer as fast as they did after that one upload (within 1.5×).

The uploads go through the real service (HTTP in-process, each in its own committed transaction, as in
production); they are committed, so the test takes its rows, cells, batches and providers away at the end."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest
from httpx import ASGITransport, AsyncClient

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import Committed
from tests.guarantee.conftest import RoleOfRoute

URL = "/api/v1/bulk/executed-volumes"
HEADER = "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days"
YEAR = 2032
UPLOADS = 2_000
PROVIDERS = 200
AT_ONCE = 4
TABLES = """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast%'"""


@pytest.fixture
async def app_client(guarantee_loaded: None, database_url: str) -> AsyncIterator[AsyncClient]:
    from services.api.main import create_app

    app = create_app()
    granted = await Committed.grant(
        plain_dsn(database_url), (Role.integration, Role.fund, Role.ministry_admin, Role.auditor)
    )
    # The account sends its 2 000 uploads at once: a rate of its own (BULK_UPLOADS_PER_HOUR would refuse them).
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        await conn.execute(
            "UPDATE membership_version v SET uploads_per_hour = $1 FROM membership m "
            "WHERE v.membership_id = m.id AND v.valid_to IS NULL AND m.subject = 'test:committed-integration'",
            UPLOADS * 2,
        )
    finally:
        await conn.close()
    async with (
        app.router.lifespan_context(app),
        AsyncClient(
            transport=ASGITransport(app=app), base_url="http://api.test", timeout=120, auth=RoleOfRoute(granted)
        ) as client,
    ):
        yield client


async def _raw(engine: Any, sql: str, *args: Any) -> list[Any]:
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        rows = await raw.fetch(sql, *args)
        await conn.commit()
        return list(rows)


async def _upload(client: AsyncClient, batch: str, lines: list[str]) -> dict[str, Any]:
    r = await client.post(
        URL,
        params={"batch_id": batch, "mode": "all_or_nothing"},
        content=("\n".join([HEADER, *lines]) + "\n").encode(),
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _timed(client: AsyncClient, path: str, params: dict[str, Any], runs: int = 41) -> float:
    """The time of a read: the fastest of `runs` answers, after a few to warm up (the other work of a shared
    machine only ever adds time; what the read itself costs is what is compared)."""
    times = []
    for i in range(runs + 5):
        t0 = time.perf_counter()
        r = await client.get(path, params=params)
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        if i >= 5:
            times.append(elapsed)
    return min(times)


async def _reads(client: AsyncClient, engine: Any) -> tuple[float, float]:
    # The planner's statistics as autovacuum keeps them (it analyses a table within a minute of such changes): the
    # reads are compared in the steady state, not in the seconds before the first analyse after a burst of uploads.
    await _raw(engine, "ANALYZE executed_volume, executed_volume_cell, ingest_batch")
    listed = await _timed(client, "/api/v1/executed-volumes", {"limit": 50})
    pve = await _timed(client, "/api/v1/planned-vs-executed", {"from": f"{YEAR}-01", "to": f"{YEAR}-12", "limit": 50})
    return listed, pve


async def test_two_thousand_uploads(app_client: AsyncClient, engine: Any) -> None:
    regions = [r[0] for r in await _raw(engine, "SELECT kato_code FROM region ORDER BY position LIMIT 4")]
    profiles = [r[0] for r in await _raw(engine, "SELECT code FROM clinical_profile ORDER BY position LIMIT 5")]
    cells = [(r, p) for r in regions for p in profiles]
    providers = [f"scale-provider-{i:03d}" for i in range(PROVIDERS)]
    await _raw(
        engine,
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "SELECT p, p, 'provider', false FROM unnest($1::text[]) p",
        providers,
    )
    try:
        # One upload of every region × profile × month the others will touch.
        first = await _upload(
            app_client,
            "scale-0",
            [f"{r},{p},,{YEAR}-{m:02d},100,10,10,700" for m in range(1, 13) for r, p in cells],
        )
        assert first["rows_new"] == 12 * len(cells)
        tables = (await _raw(engine, TABLES))[0][0]
        list_one, pve_one = await _reads(app_client, engine)

        uploads = []
        for i in range(1, UPLOADS):
            provider, month = providers[i % PROVIDERS], i // PROVIDERS % 12 + 1
            lines = [f"{r},{p},{provider},{YEAR}-{month:02d},{i % 90 + 5},1,2,{i % 500 + 40}" for r, p in cells[:8]]
            if i % 5 == 0:  # a correction of a figure the first upload gave
                r, p = cells[i % len(cells)]
                lines.append(f"{r},{p},,{YEAR}-{month:02d},{100 + i},10,10,{700 + i}")
            uploads.append((f"scale-{i}", lines))
        versions = sum(len(lines) == 9 for _, lines in uploads)
        for at in range(0, len(uploads), AT_ONCE):  # a few senders at once: they stream together, store in turn
            answers = await asyncio.gather(*(_upload(app_client, b, lines) for b, lines in uploads[at : at + AT_ONCE]))
            assert [a["rows_accepted"] for a in answers] == [len(lines) for _, lines in uploads[at : at + AT_ONCE]]

        assert (await _raw(engine, TABLES))[0][0] == tables
        stored = await _raw(
            engine,
            "SELECT count(*), count(*) FILTER (WHERE NOT is_current), max(version) FROM executed_volume "
            "WHERE month BETWEEN $1 AND $2",
            date(YEAR, 1, 1),
            date(YEAR, 12, 1),
        )
        assert stored[0][0] == 12 * len(cells) + 8 * (UPLOADS - 1) + versions
        assert stored[0][1] == versions and stored[0][2] > 2  # corrections kept the rows they closed
        list_many, pve_many = await _reads(app_client, engine)
        assert list_many <= 1.5 * list_one, (list_one, list_many)
        assert pve_many <= 1.5 * pve_one, (pve_one, pve_many)
    finally:
        batches = [f"scale-{i}" for i in range(UPLOADS)]
        await _raw(
            engine,
            "DELETE FROM executed_volume e USING ingest_batch b WHERE b.batch_no = e.batch_no AND b.batch_id = ANY($1)",
            batches,
        )
        await _raw(engine, "DELETE FROM executed_volume_cell WHERE extract(year FROM month) = $1", YEAR)
        await _raw(engine, "DELETE FROM ingest_batch WHERE batch_id = ANY($1)", batches)
        await _raw(engine, "DELETE FROM organisation WHERE code = ANY($1)", providers)
