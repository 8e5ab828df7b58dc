"""Both services' apps, bound to the test's transaction, with a client each (for the walks over their OpenAPI
documents)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bind_app


def _apps() -> dict[str, Any]:
    from services.api.main import create_app as api_app
    from services.scoring.main import create_app as scoring_app

    return {"api": api_app(), "scoring": scoring_app()}


@pytest.fixture
async def services(session: AsyncSession, raw_connection: Any) -> AsyncIterator[dict[str, tuple[Any, AsyncClient]]]:
    out: dict[str, tuple[Any, AsyncClient]] = {}
    clients = []
    for name, app in _apps().items():
        # Not held to the documents here: a route that forgot its token may answer anything.
        bind_app(app, session, raw_connection, record_answers=False)
        client = AsyncClient(
            transport=ASGITransport(app=app, raise_app_exceptions=False), base_url=f"http://{name}.test"
        )
        clients.append(client)
        out[name] = (app, client)
    try:
        yield out
    finally:
        for client in clients:
            await client.aclose()
