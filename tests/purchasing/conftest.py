"""Fixtures of the purchasing tests: seed 003 (and 002) loaded once per run, the contracts of seed 003 by provider, and
an app bound to the test's transaction whose requests carry the token each test names."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bind_app
from tests.guarantee.conftest import guarantee_loaded  # noqa: F401  (the fixture, loaded once per run)


@pytest.fixture
async def papi(guarantee_loaded: None, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:  # noqa: F811
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        yield client


async def contract_of(raw: Any, provider_part: str) -> tuple[int, int]:
    """(contract id, provider organisation id) of the seed 003 contract whose provider's name holds `provider_part`."""
    row = await raw.fetchrow(
        """SELECT c.id, c.provider_id FROM purchase_contract c JOIN organisation o ON o.id = c.provider_id
           WHERE c.source_key LIKE 'palliative-astana-2022/%' AND o.name_kk LIKE '%' || $1 || '%'""",
        provider_part,
    )
    assert row is not None, provider_part
    return int(row["id"]), int(row["provider_id"])
