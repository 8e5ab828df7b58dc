"""Reviewers acting on one submitted report at once, against a real server process whose writes commit: of the
reviewers holding the same ETag exactly one acts (200); every other one gets 412, never 409 or 500."""

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import httpx

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers

REVIEWERS = 8

# A lead's Concept report of ДСМ for 2025 nobody filed yet (the live database is shared by the run's live tests).
SLOT_SQL = """
SELECT e.measure_id FROM expected_report e
JOIN document d ON d.id = e.document_id AND d.slug = 'health-concept-2022-2029'
JOIN organisation o ON o.id = e.organisation_id AND o.code = 'ДСМ'
WHERE e.period_year = 2025 AND e.lead_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM progress_report r WHERE r.expected_report_id = e.id)
ORDER BY e.id LIMIT 1
"""


async def test_reviewers_at_once_one_wins_the_others_get_412(api_server: Any, live_database: str) -> None:
    dsn = plain_dsn(live_database)
    conn = await asyncpg.connect(dsn)
    try:
        measure = await conn.fetchval(SLOT_SQL)
    finally:
        await conn.close()
    executor = await committed_headers(dsn, Role.executor, "ДСМ", subject="test:race-dsm")
    reviewers = [
        await committed_headers(dsn, Role.ministry_reviewer, subject=f"test:race-reviewer-{i}")
        for i in range(REVIEWERS)
    ]
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60) as client:
        created = await client.post(
            "/api/v1/progress-reports",
            json={"measure_id": measure, "period_year": 2025, "status": "done", "narrative_kk": "Орындалды."},
            headers=executor,
        )
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        submitted = await client.post(
            f"/api/v1/progress-reports/{rid}/submit", headers={**executor, "If-Match": created.headers["etag"]}
        )
        assert submitted.status_code == 200, submitted.text
        etag = submitted.headers["etag"]
        start = asyncio.Event()

        async def review(i: int) -> httpx.Response:
            await start.wait()
            headers = {**reviewers[i], "If-Match": etag}
            if i % 2:
                return await client.post(f"/api/v1/progress-reports/{rid}/accept", headers=headers)
            return await client.post(
                f"/api/v1/progress-reports/{rid}/return", headers=headers, json={"reason": f"Рецензент {i}"}
            )

        tasks = [asyncio.create_task(review(i)) for i in range(REVIEWERS)]
        await asyncio.sleep(0)
        start.set()
        answers = await asyncio.gather(*tasks)
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 412: REVIEWERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
        [winner] = [i for i, a in enumerate(answers) if a.status_code == 200]
        history = (await client.get(f"/api/v1/progress-reports/{rid}/history", headers=reviewers[0])).json()
        assert [h["action"] for h in history] == ["create", "submit", "accept" if winner % 2 else "return"]
        assert history[-1]["changed_by"].startswith(f"test:race-reviewer-{winner}@")
