"""Writers racing on one If-Match, against a real server process on a database of its own whose writes commit
(the `api_server` and `live_database` fixtures).

Of 50 writes sent at once with the same ETag exactly one changes the resource; the 49 others answer 412 (never
409 or 500), whether a loser reads the version before the winner commits (the guarded UPDATE then finds the
version closed) or after (the ETag then names an older version).
"""

import asyncio
from collections import Counter
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.api.registry import service
from services.api.registry.schemas import MeasureWrite
from services.common.auth import Role
from services.common.db import make_sessionmaker
from services.common.errors import PreconditionFailed
from services.common.models.registry import MeasureVersion
from services.common.settings import asyncpg_dialect_url, plain_dsn
from tests.committed_auth import committed_headers
from tests.registry.test_write_api import CANCER, new_measure

WRITERS = 50


async def _race(client: httpx.AsyncClient, url: str, etag: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    start = asyncio.Event()

    async def put(body: dict[str, Any]) -> httpx.Response:
        await start.wait()
        return await client.put(url, json=body, headers={"If-Match": etag})

    tasks = [asyncio.create_task(put(b)) for b in bodies]
    await asyncio.sleep(0)
    start.set()
    return await asyncio.gather(*tasks)


async def _history(client: httpx.AsyncClient, url: str, versions: int) -> list[dict[str, Any]]:
    """The history once `versions` versions are visible (the winner's commit may follow its answer)."""
    for _ in range(50):
        history: list[dict[str, Any]] = (await client.get(url)).json()
        if len(history) >= versions:
            return history
        await asyncio.sleep(0.1)
    return history


@pytest.fixture
async def admin(live_database: str) -> dict[str, str]:
    return await committed_headers(plain_dsn(live_database), Role.ministry_admin, subject="test:race-admin")


def _limits() -> httpx.Limits:
    return httpx.Limits(max_connections=WRITERS, max_keepalive_connections=WRITERS)


async def test_50_measure_writes_with_one_etag_one_wins_49_get_412(api_server: Any, admin: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60, limits=_limits(), headers=admin) as client:
        created = await client.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number="901"))
        assert created.status_code == 201, created.text
        measure_id, etag = created.json()["id"], created.headers["etag"]
        bodies = [
            new_measure(number="901", title_kk=f"Жазушы {i}", effective_from="2022-01-15") for i in range(WRITERS)
        ]
        answers = await _race(client, f"/api/v1/measures/{measure_id}", etag, bodies)

        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 412: WRITERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
        [winner] = [i for i, a in enumerate(answers) if a.status_code == 200]
        for a in answers:
            if a.status_code == 412:
                assert a.headers["content-type"] == "application/problem+json"
                assert a.json()["errors"][0]["field"] == "If-Match"
        history = await _history(client, f"/api/v1/measures/{measure_id}/history", 2)
        assert [(h["version"], h["title_kk"]) for h in history] == [
            (1, new_measure()["title_kk"]),
            (2, f"Жазушы {winner}"),
        ]
        assert answers[winner].headers["etag"] == (await client.get(f"/api/v1/measures/{measure_id}")).headers["etag"]


async def test_50_document_writes_with_one_etag_one_wins_49_get_412(api_server: Any, admin: dict[str, str]) -> None:
    doc = {
        "slug": "race-plan-2027-2030",
        "kind": "government_decree",
        "number": "77",
        "adopted_on": "2026-11-02",
        "issuer_kk": "ҚР Үкіметі",
        "title_kk": "Жарыс жоспары",
        "period_start": "2027-01-01",
        "period_end": "2030-12-31",
    }
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60, limits=_limits(), headers=admin) as client:
        created = await client.post("/api/v1/documents", json=doc)
        assert created.status_code == 201, created.text
        url = f"/api/v1/documents/{doc['slug']}"
        fields = {k: v for k, v in doc.items() if k != "slug"}
        bodies = [{**fields, "title_kk": f"Жарыс жоспары {i}", "effective_from": "2026-12-01"} for i in range(WRITERS)]
        answers = await _race(client, url, created.headers["etag"], bodies)

        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 412: WRITERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
        [winner] = [i for i, a in enumerate(answers) if a.status_code == 200]
        history = await _history(client, f"{url}/history", 2)
        assert [(h["version"], h["title_kk"]) for h in history] == [
            (1, "Жарыс жоспары"),
            (2, f"Жарыс жоспары {winner}"),
        ]


async def test_a_writer_waiting_on_the_winner_gets_412_not_409(live_database: str) -> None:
    """The interleaving that answered 409 "measure N has no current version": B reads while A's change is not
    committed, waits for A's row lock, and finds the version closed once A commits."""
    engine = create_async_engine(asyncpg_dialect_url(live_database), pool_size=2)
    maker = make_sessionmaker(engine)
    today = date(2026, 12, 6)
    try:
        async with maker() as setup:
            measure_id, etag = await service.create_measure(
                setup, CANCER, MeasureWrite.model_validate(new_measure(number="902")), "setup", today
            )
            await setup.commit()
        a_body = MeasureWrite.model_validate(new_measure(number="902", title_kk="A", effective_from="2022-01-15"))
        b_body = MeasureWrite.model_validate(new_measure(number="902", title_kk="B", effective_from="2022-01-15"))
        async with maker() as a, maker() as b:
            await service.update_measure(a, measure_id, a_body, etag, "a", today)  # holds the closed version's lock
            b_write = asyncio.create_task(service.update_measure(b, measure_id, b_body, etag, "b", today))
            await asyncio.sleep(1.0)
            assert not b_write.done(), "B should wait for A's row lock"
            await a.commit()
            with pytest.raises(PreconditionFailed) as failed:
                await b_write
            assert failed.value.errors[0]["field"] == "If-Match"
            await b.rollback()
        async with maker() as check:
            titles = (
                await check.execute(
                    select(MeasureVersion.version, MeasureVersion.title_kk)
                    .where(MeasureVersion.measure_id == measure_id)
                    .order_by(MeasureVersion.version)
                )
            ).all()
        assert [tuple(t) for t in titles] == [(1, new_measure()["title_kk"]), (2, "A")]
    finally:
        await engine.dispose()
