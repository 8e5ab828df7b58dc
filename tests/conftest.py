"""Test fixtures on the real servers.

Each test run (and each xdist worker) gets its own Postgres database, migrated once with
`alembic upgrade heads`, dropped at the end. Each test runs inside an outer transaction that is rolled
back; the app's session commits only a savepoint. Redis work uses a queue name unique to the run.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from services.common.settings import REPO_ROOT, asyncpg_dialect_url, plain_dsn
from tests.auth import Auth, flush_pending, run_authenticator, run_issuer
from tests.documented import RecordAnswers, undocumented

RUN_ID = uuid.uuid4().hex[:10]
# Queues of their own, so runs sharing one Redis never take each other's jobs.
os.environ["REPORTS_QUEUE"] = f"arq:test-{RUN_ID}:reports"
os.environ["SCORING_QUEUE_NAME"] = f"arq:test-{RUN_ID}:scoring"
os.environ["UPLOAD_RATE_KEY_PREFIX"] = f"test-{RUN_ID}:upload-rate"

# The run's own OpenID Connect issuer: the apps under test, and the services the tests run as processes, trust it alone.
ISSUER = run_issuer()


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set: run the tests with `make test`")
    return plain_dsn(url)


def _with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (works for host:port and ?host=/socket forms)."""
    head, sep, query = url.partition("?")
    scheme, rest = head.split("://", 1)
    authority, _, _ = rest.partition("/")
    return f"{scheme}://{authority}/{name}{sep}{query}"


def alembic_config(url: str) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logging"] = False
    return cfg


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_with_database(url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(prefix: str) -> str:
    """Create an empty database for this run and return its URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{RUN_ID}_{worker}"
    server = _server_url()
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(_admin(server, f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    return _with_database(server, name)


def drop_database(url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    asyncio.run(_admin(_server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_database("test")
    command.upgrade(alembic_config(url), "heads")
    os.environ["DATABASE_URL"] = url
    from services.common.settings import get_settings

    get_settings.cache_clear()
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(asyncpg_dialect_url(database_url), pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
async def loaded(engine: AsyncEngine) -> None:
    """The official documents, loaded once per run and committed (read-only for the tests)."""
    from services.common.db import make_sessionmaker
    from services.loader import load_all

    await load_all(make_sessionmaker(engine))


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        trans = await conn.begin()
        # The asyncpg adapter sends BEGIN with its first statement: send one now, so that statements sent straight to
        # the driver connection (raw_connection) are inside the test's transaction too, and rolled back with it.
        await conn.exec_driver_sql("SELECT 1")
        yield conn
        if trans.is_active:
            await trans.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    sess = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield sess
    await sess.close()


@pytest.fixture
async def raw_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection inside the test's transaction (for the SQL-built read path)."""
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def bind_app(app: Any, session: AsyncSession, raw_connection: Any, *, record_answers: bool = True) -> None:
    """Point an app's session and read dependencies at the test's transaction (and, unless told not to, hold its
    answers to its OpenAPI document: tests/documented.py)."""
    from services.common.db import get_read_pool, get_session, get_stream_session

    async def _session() -> AsyncIterator[AsyncSession]:
        # As production's unit of work: commit when the handler succeeds, roll back when it raises. Here both act
        # on the request's savepoint; the test's outer transaction rolls back everything at the end.
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise

    async def _stream_session() -> AsyncIterator[AsyncSession]:
        yield session

    async def _read() -> Any:
        await flush_pending(raw_connection)  # memberships the test asked `auth` for, before a request reads them
        return raw_connection

    app.dependency_overrides[get_session] = _session
    app.dependency_overrides[get_stream_session] = _stream_session
    app.dependency_overrides[get_read_pool] = _read
    app.state.authenticator = run_authenticator()  # the lifespan, which builds it in production, does not run here
    if record_answers:
        app.add_middleware(RecordAnswers, title=app.title, spec=app.openapi)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run on an answer the OpenAPI documents do not promise (tests/documented.py)."""
    problems = undocumented()
    if problems:
        print("\nAnswers the OpenAPI documents do not promise:\n  " + "\n  ".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
async def auth(raw_connection: Any) -> AsyncIterator[Auth]:
    """Real tokens of the run's issuer for memberships created in the test's transaction (rolled back with it):

        headers = auth.headers(Role.executor, organisation=org_id)   # {"Authorization": "Bearer ..."}
        await client.get("/api/v1/...", headers=headers)

    `auth.headers(...)` may also be awaited, which creates the membership at once (before a request would)."""
    with Auth.for_test(ISSUER, raw_connection) as helper:
        yield helper


@pytest.fixture
async def api(loaded: None, session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as client:
        yield client


# ------------------------------------------------------------------------------------------------ live servers


@pytest.fixture(scope="session")
def live_database(database_url: str) -> Iterator[str]:
    """A database of its own, migrated and loaded, whose writes really commit (for the services run as processes)."""
    from tests.live import committed_database

    with committed_database("live") as url:
        yield url


@pytest.fixture(scope="session")
def api_server(live_database: str) -> Iterator[Any]:
    """The registry API in a uvicorn process on `live_database` (a tests.live.LiveServer: `.url`, `.log()`)."""
    from tests.live import API_APP, serve

    with serve(API_APP, live_database) as server:
        yield server


@pytest.fixture(scope="session")
def scoring_server(live_database: str) -> Iterator[Any]:
    """The scoring service in a uvicorn process on `live_database`."""
    from tests.live import SCORING_APP, serve

    with serve(SCORING_APP, live_database) as server:
        yield server
