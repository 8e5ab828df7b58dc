"""Ministry administrators writing an indicator's first rule at once (all holding the ETag of version 0, the
document's own rule, which is never stored), against a real server process whose writes commit: exactly one version
is recorded, the others answer 412 with the problem+json of a stale If-Match (never a bare 409)."""

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import httpx

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers

RACERS = 16


async def test_concurrent_first_rules_one_wins_the_others_get_412(api_server: Any, live_database: str) -> None:
    dsn = plain_dsn(live_database)
    admin = await committed_headers(dsn, Role.ministry_admin, subject="test:rule-race-admin")
    conn = await asyncpg.connect(dsn)
    try:
        # Indicators of the Concept without a stored rule (version 0 is the document's own).
        free = await conn.fetch(
            """SELECT i.id FROM indicator i JOIN document d ON d.id = i.document_id
               WHERE NOT EXISTS (SELECT 1 FROM indicator_rule r WHERE r.indicator_id = i.id)
               ORDER BY i.id DESC LIMIT 3"""
        )
    finally:
        await conn.close()
    assert len(free) == 3
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60, limits=limits) as client:
        for row in free:
            url = f"/api/v1/indicators/{row['id']}/rule"
            read = await client.get(url)
            assert read.status_code == 200, read.text
            tag = read.headers["etag"]
            assert tag == f'"indicator-rule-{row["id"]}.v0.v0"'
            start = asyncio.Event()

            async def write(i: int, url: str = url, tag: str = tag, start: asyncio.Event = start) -> httpx.Response:
                await start.wait()
                body = {"direction": "increase", "basis": f"order No. {i}"}
                return await client.put(url, json=body, headers={**admin, "If-Match": tag})

            tasks = [asyncio.create_task(write(i)) for i in range(RACERS)]
            await asyncio.sleep(0)
            start.set()
            answers = await asyncio.gather(*tasks)
            statuses = Counter(a.status_code for a in answers)
            assert statuses == {200: 1, 412: RACERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
            for a in answers:
                if a.status_code == 412:
                    assert a.headers["content-type"] == "application/problem+json"
                    assert a.json()["errors"][0]["field"] == "If-Match"
            history = await client.get(f"{url}/history")
            assert [v["version"] for v in history.json()] == [0, 1], history.text
