"""Fixtures of the registry API's access tests: the plans and the guarantee programme loaded, a client on the test's
transaction."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bind_app
from tests.guarantee.conftest import guarantee_loaded

__all__ = ["guarantee_loaded"]


@pytest.fixture
async def client(
    loaded: None, guarantee_loaded: None, session: AsyncSession, raw_connection: Any
) -> AsyncIterator[AsyncClient]:
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as c:
        yield c
