"""Writers racing on one If-Match against the scoring service run as a real server process, on a database whose
writes commit: of 50 writes sent at once with the same ETag exactly one changes the resource and the 49 others
answer 412 (never 409 or 500), as for the registry's writes (tests/registry/test_write_race.py)."""

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.live import LiveServer
from tests.scoring.conftest import demo_headers

WRITERS = 50


async def _race(client: httpx.AsyncClient, method: str, url: str, etag: str, bodies: list[Any]) -> list[httpx.Response]:
    # Open the 50 connections first (kept alive), so that the writes reach the server together.
    await asyncio.gather(*(client.get("/health/live") for _ in bodies))
    start = asyncio.Event()

    async def send(body: Any) -> httpx.Response:
        await start.wait()
        return await client.request(method, url, json=body, headers={"If-Match": etag})

    tasks = [asyncio.create_task(send(b)) for b in bodies]
    await asyncio.sleep(0)
    start.set()
    return await asyncio.gather(*tasks)


def _client(server: LiveServer, subject: str) -> httpx.AsyncClient:
    """A client of the server signed in as a demo subject (granted by the loader)."""
    limits = httpx.Limits(max_connections=WRITERS, max_keepalive_connections=WRITERS)
    return httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits, headers=demo_headers(subject))


async def test_50_technology_patches_with_one_etag_one_wins_49_get_412(scoring_server: LiveServer) -> None:
    async with _client(scoring_server, "demo-commission-secretary") as client:
        created = await client.post(
            "/api/v1/technologies",
            json={
                "code": "RACE-1",
                "name_kk": "Жарыс",
                "clinical_profile": "cardiology",
                "first_used_world_year": 2011,
            },
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/technologies/{created.json()['id']}"
        bodies = [{"performing_organisations": 100 + i} for i in range(WRITERS)]
        answers = await _race(client, "PATCH", url, created.headers["ETag"], bodies)

        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 412: WRITERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
        for a in answers:
            if a.status_code == 412:
                assert a.headers["content-type"] == "application/problem+json"
                assert a.json()["errors"][0]["field"] == "If-Match"
        [winner] = [i for i, a in enumerate(answers) if a.status_code == 200]
        now = await client.get(url)
        assert now.json()["performing_organisations"] == 100 + winner
        assert now.headers["ETag"] == answers[winner].headers["ETag"]
        assert now.json()["row_version"] == 2  # moved on once


async def test_50_decision_rule_settings_with_one_etag_one_wins_49_get_412(scoring_server: LiveServer) -> None:
    async with _client(scoring_server, "demo-ministry-admin") as client:
        listed = (await client.get("/api/v1/criteria-versions")).json()["items"]
        url = f"/api/v1/criteria-versions/{listed[0]['id']}"
        before = await client.get(url)
        settings = len(before.json()["decision_rules"])
        bodies = [
            {"threshold": f"{7 + i / 100:.2f}", "combination_rule": "mean", "basis": f"minutes {i}"}
            for i in range(WRITERS)
        ]
        answers = await _race(client, "PUT", f"{url}/decision-rule", before.headers["ETag"], bodies)

        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 412: WRITERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
        [winner] = [i for i, a in enumerate(answers) if a.status_code == 200]
        rules = (await client.get(url)).json()["decision_rules"]
        assert len(rules) == settings + 1 and rules[-1]["basis"] == f"minutes {winner}"
