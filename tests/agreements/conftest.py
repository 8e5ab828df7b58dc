"""Fixtures of the agreements tests: seed 002 loaded (regions, the item 79 access norms, the synthetic demo
statistics), a client on the test's transaction, and an akimat organisation per region (made in the transaction)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bind_app
from tests.guarantee.conftest import guarantee_loaded

__all__ = ["guarantee_loaded"]

ASTANA = "710000000"
ALMATY_CITY = "750000000"


@pytest.fixture
async def client(guarantee_loaded: None, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as c:
        yield c


@pytest.fixture
async def akimats(raw_connection: Any) -> dict[str, int]:
    """An akimat organisation of Astana and one of Almaty city: {region: organisation id}."""
    out = {}
    for region, name in ((ASTANA, "Астана қаласының әкімдігі"), (ALMATY_CITY, "Алматы қаласының әкімдігі")):
        out[region] = int(
            await raw_connection.fetchval(
                "INSERT INTO organisation (code, name_kk, kind, region_code, in_abbreviation_list) "
                "VALUES ($1, $2, 'akimat', $3, false) RETURNING id",
                f"test-akimat-{region}",
                name,
                region,
            )
        )
    return out
