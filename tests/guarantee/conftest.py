"""Fixtures of the guarantee tests: seed 002 and 003 loaded once per run by this domain's importer only."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import bind_app


@pytest.fixture(scope="session")
async def guarantee_loaded(engine: AsyncEngine) -> None:
    from services.api.guarantee.importer import load_guarantee
    from services.common.db import make_sessionmaker

    maker = make_sessionmaker(engine)
    await load_guarantee(maker, with_demo_statistics=True)
    await load_guarantee(maker, with_demo_statistics=True)  # idempotent: a second run changes nothing


@pytest.fixture
async def gapi(guarantee_loaded: None, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        yield client
