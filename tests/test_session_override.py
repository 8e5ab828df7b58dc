"""The tests' session override behaves as production's: a handler that raises leaves nothing behind."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import SessionDep
from services.common.errors import Conflict
from services.common.models.reference import Organisation, OrganisationKind
from tests.conftest import bind_app


def _app_writing_then() -> Any:
    from services.api.main import create_app

    app = create_app()

    @app.post("/test-only/write-then-{outcome}")
    async def write_then(session: SessionDep, outcome: str) -> dict[str, str]:
        session.add(Organisation(code=f"TEST-{outcome}", name_kk="сынақ", kind=OrganisationKind.other))
        await session.flush()
        if outcome == "fail":
            raise Conflict("refused after the write")
        return {"status": "ok"}

    return app


@pytest.fixture
async def client(loaded: None, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    app = _app_writing_then()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as http:
        yield http


async def _count(session: AsyncSession, code: str) -> int:
    return int(await session.scalar(select(func.count()).where(Organisation.code == code)) or 0)


async def test_a_failed_request_rolls_back_its_writes(client: AsyncClient, session: AsyncSession) -> None:
    failed = await client.post("/test-only/write-then-fail")
    assert failed.status_code == 409 and failed.headers["content-type"] == "application/problem+json"
    assert await _count(session, "TEST-fail") == 0
    assert (await client.get("/api/v1/organisations/TEST-fail")).status_code == 404
    ok = await client.post("/test-only/write-then-ok")
    assert ok.status_code == 200
    assert await _count(session, "TEST-ok") == 1
