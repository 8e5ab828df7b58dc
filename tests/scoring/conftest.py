"""Fixtures of the scoring tests: the seed 004 criteria set loaded into the test's own transaction, and a
client of the scoring app bound to that transaction. They do not depend on the `loaded` fixture."""

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import bind_app


@pytest.fixture
async def criteria(session: AsyncSession) -> Any:
    """Seed 004 (Order No. 129) as the version in force from 2025-11-01, inside the test's transaction."""
    from services.scoring.criteria.importer import load_criteria_set, read_seed

    version = await load_criteria_set(session, read_seed())
    await session.commit()  # a savepoint: rolled back with the test
    # Plain values: a refused request rolls the session back, which expires ORM instances.
    return SimpleNamespace(id=version.id, code=version.code)


@pytest.fixture
async def client(criteria: Any, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    from services.common.db import get_session
    from services.scoring.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)

    async def _session() -> AsyncIterator[AsyncSession]:
        # Like the real dependency: commit (the savepoint) on success, roll back what a refused request did.
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise

    app.dependency_overrides[get_session] = _session
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://scoring.test") as c:
        yield c


async def if_match(client: AsyncClient, url: str) -> dict[str, str]:
    """The If-Match header naming the current ETag of the resource at `url` (a state transition needs it)."""
    got = await client.get(url)
    assert got.status_code == 200, got.text
    return {"If-Match": got.headers["ETag"]}
