"""Two Fund officers accepting one presented invoice at once, against a real server process whose writes commit:
exactly one acceptance is recorded, the others answer 412 (never 409 or 500), and the contract gets one invoice."""

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import httpx

from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers
from tests.purchasing.test_monthly_invoices import DOCUMENTS

RACERS = 12


async def test_concurrent_acceptance_one_wins_the_others_get_412(api_server: Any, live_database: str) -> None:
    dsn = plain_dsn(live_database)
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """SELECT c.id, c.provider_id FROM purchase_contract c JOIN organisation o ON o.id = c.provider_id
               WHERE c.source_key LIKE 'palliative-astana-2022/%' AND o.name_kk LIKE '%Адал ниет%'"""
        )
        assert row is not None
        contract, provider = int(row["id"]), int(row["provider_id"])
    finally:
        await conn.close()
    provider_h = await committed_headers(dsn, Role.provider, provider, subject="test:race-provider")
    fund_h = await committed_headers(dsn, Role.fund, subject="test:race-fund")
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60, limits=limits) as client:
        presented = await client.post(
            f"/api/v1/contracts/{contract}/monthly-invoices",
            json={"month": "2022-12", "presented": "1300000.00", "documents": DOCUMENTS},
            headers=provider_h,
        )
        assert presented.status_code == 201, presented.text
        url = f"/api/v1/monthly-invoices/{presented.json()['id']}/accept"
        etag = presented.headers["etag"]
        start = asyncio.Event()

        async def accept(i: int) -> httpx.Response:
            await start.wait()
            cut = {"amount": f"{i + 1}.00", "reason_code": "volume_monitoring", "text": f"officer {i}"}
            return await client.post(url, json={"deductions": [cut]}, headers={**fund_h, "If-Match": etag})

        tasks = [asyncio.create_task(accept(i)) for i in range(RACERS)]
        await asyncio.sleep(0)
        start.set()
        answers = await asyncio.gather(*tasks)

        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 412: RACERS - 1}, [a.text for a in answers if a.status_code not in (200, 412)]
        [winner] = [i for i, a in enumerate(answers) if a.status_code == 200]
        for a in answers:
            if a.status_code == 412:
                assert a.headers["content-type"] == "application/problem+json"
                assert a.json()["errors"][0]["field"] == "If-Match"
        for _ in range(50):  # the winner's commit may follow its answer by a moment
            status = (await client.get(f"/api/v1/contracts/{contract}", headers=fund_h)).json()
            if status["invoices"]:
                break
            await asyncio.sleep(0.1)
        [invoice] = [i for i in status["invoices"] if i["period_start"] == "2022-12"]
        assert invoice["accepted"] == f"{1300000 - (winner + 1)}.00"
        read = (await client.get(f"/api/v1/monthly-invoices/{presented.json()['id']}", headers=fund_h)).json()
        assert [d["text"] for d in read["deductions"]] == [f"officer {winner}"]
