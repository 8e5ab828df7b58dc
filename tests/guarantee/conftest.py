"""Fixtures of the guarantee tests: seed 002 and 003 loaded once per run by this domain's importer only; a client
that signs each request in as the role that calls its route."""

from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.auth import Role
from tests.conftest import bind_app


@pytest.fixture(scope="session")
async def guarantee_loaded(engine: AsyncEngine) -> None:
    from services.api.guarantee.importer import load_guarantee
    from services.common.db import make_sessionmaker

    maker = make_sessionmaker(engine)
    await load_guarantee(maker, with_demo_statistics=True)
    await load_guarantee(maker, with_demo_statistics=True)  # idempotent: a second run changes nothing


class RoleOfRoute(httpx.Auth):
    """Sends each request with the token of the role that calls its route (unless it names its own Authorization):
    bulk uploads and their batches as one integration account, invoices of a contract as the Fund, other writes
    as the ministry administrator, other reads as the auditor. The tests of who may call what are in
    tests/api_access."""

    def __init__(self, auth: Any) -> None:
        self.uploader = auth.headers(Role.integration)
        self.fund = auth.headers(Role.fund)
        self.admin = auth.headers(Role.ministry_admin)
        self.reader = auth.headers(Role.auditor)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "authorization" not in request.headers:
            request.headers.update(self._headers(request.method, request.url.path))
        yield request

    def _headers(self, method: str, path: str) -> dict[str, str]:
        if path.startswith("/api/v1/bulk/") or "/batches/" in path or path.startswith("/api/v1/purchasing/invoice-b"):
            return self.uploader
        if method == "GET":
            return self.reader
        if path.startswith("/api/v1/contracts/"):
            return self.fund
        return self.admin


@pytest.fixture
async def gapi(
    guarantee_loaded: None, session: AsyncSession, raw_connection: Any, auth: Any
) -> AsyncIterator[AsyncClient]:
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://api.test", auth=RoleOfRoute(auth)
    ) as client:
        yield client
