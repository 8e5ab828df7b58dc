"""Engine, sessions and the unit of work.

One owner of the transaction: the request dependency (or a job's `unit_of_work()` scope) commits on
success and rolls back on error. Services and repositories only `flush()`.

A write commits before it is answered: the session dependency has `scope="function"`, so its exit (the commit)
runs when the handler has returned and its result is serialised, before the response is sent. A commit that
fails becomes the error answer (errors.py: 409 for a conflict, 503 when the database is gone), never a success
claimed for a write that was lost. A streamed response body runs after that exit: it takes its own session
(`StreamSessionDep`) or only what the handler loaded.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.common.settings import Settings, get_settings


def make_engine(settings: Settings | None = None, **kwargs: Any) -> AsyncEngine:
    settings = settings or get_settings()
    # Up to 2 × DB_POOL_SIZE connections, each kept once opened: an overflow connection is closed when it comes back,
    # and under a deadline day's bursts the next one costs a new Postgres backend and the driver's type
    # introspection (about 20 ms of CPU) for a request that would have waited a millisecond.
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=2 * settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        **kwargs,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def _init_read_connection(conn: asyncpg.Connection) -> None:
    # json/jsonb come back as raw text: the read path passes Postgres-built JSON straight through.
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=lambda v: orjson.dumps(v).decode(), decoder=lambda v: v, schema="pg_catalog"
        )


async def _keep_session_state(conn: asyncpg.Connection) -> None:
    """Nothing to reset: the read pool runs single read statements (the token's membership, SQL-built JSON), none of
    which sets a variable, takes a session lock or listens. asyncpg still rolls back a transaction left open; the
    default reset query would cost every authenticated request one more round trip."""


async def make_read_pool(settings: Settings | None = None) -> asyncpg.Pool:
    """A bare asyncpg pool for read-only queries that build their JSON inside Postgres."""
    settings = settings or get_settings()
    pool = await asyncpg.create_pool(
        settings.asyncpg_dsn,
        min_size=2,
        max_size=settings.db_pool_size,
        init=_init_read_connection,
        reset=_keep_session_state,
    )
    assert pool is not None
    return pool


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Per-request session: commit when the handler succeeds, roll back when it raises."""
    async with unit_of_work(request.app.state.sessionmaker) as session:
        yield session


async def get_stream_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a route that reads only and streams its answer: it stays open until the response has been sent
    (a yield dependency of the default, request scope), and commits nothing."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        yield session


async def get_read_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.read_pool
    return pool


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
StreamSessionDep = Annotated[AsyncSession, Depends(get_stream_session)]
ReadPoolDep = Annotated[asyncpg.Pool, Depends(get_read_pool)]


@asynccontextmanager
async def unit_of_work(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The transaction scope for jobs and loaders outside a request."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under a session, inside its transaction (COPY and SQL-built JSON go straight to it).

    SQLAlchemy's asyncpg adapter sends BEGIN only with its first statement: until then the driver connection is in
    autocommit, where a transaction-level lock or SET LOCAL would end with its own statement. A first statement
    goes through SQLAlchemy when none has."""
    conn = await session.connection()
    raw: Any = (await conn.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return raw
