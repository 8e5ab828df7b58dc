"""The services connect as a role that owns no table and may only insert and read the audit log."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.common.settings import Settings, get_settings, with_user


@pytest.fixture
async def as_service(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test database as the services make it (their role), in a transaction rolled back after."""
    url = get_settings().service_url
    assert url == with_user(database_url, "kzhp_service")  # derived from DATABASE_URL by default
    conn = await asyncpg.connect(url)
    tx = conn.transaction()
    await tx.start()
    try:
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


async def test_the_services_role_is_not_the_owner(as_service: asyncpg.Connection) -> None:
    assert await as_service.fetchval("SELECT current_user") == "kzhp_service"
    assert not await as_service.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    owned = await as_service.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE pg_get_userbyid(c.relowner) = current_user AND n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    )
    assert [r["relname"] for r in owned] == []


async def test_the_services_role_writes_data_and_appends_audit_rows(as_service: asyncpg.Connection) -> None:
    await as_service.execute(
        "INSERT INTO membership (issuer, subject) VALUES ('https://idp.test', 'someone')"
    )  # data: written
    await as_service.execute(
        "INSERT INTO audit_log (actor, issuer, subject, roles, action, resource, resource_id) "
        "VALUES ('a@b', 'b', 'a', '{auditor}', 'create', 'thing', '1')"
    )
    assert await as_service.fetchval("SELECT count(*) FROM audit_log WHERE resource = 'thing'") == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DROP TABLE measure",
        "ALTER TABLE measure ADD COLUMN x int",
        "CREATE TABLE mine (x int)",
        "UPDATE alembic_version SET version_num = 'x'",
    ],
)
async def test_the_services_role_is_refused(as_service: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match=r"permission denied|must be owner"):
        await as_service.execute(statement)


def test_the_services_connection_settings() -> None:
    owner = "postgresql://postgres@db.example:5432/plans"
    assert Settings(database_url=owner).service_url == "postgresql://kzhp_service@db.example:5432/plans"
    explicit = "postgresql://svc:secret@db.example:5432/plans"
    assert Settings(database_url=owner, service_database_url=explicit).service_url == explicit
    assert Settings(database_url=owner, service_db_user="").service_url == owner
    socket = "postgresql://postgres:@/postgres?host=/tmp/pg"
    assert Settings(database_url=socket).sqlalchemy_url == "postgresql+asyncpg://kzhp_service@/postgres?host=/tmp/pg"


async def test_the_loaders_statistics_step_analyses_only_what_its_role_owns(loaded: None, session: Any) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from services.loader import FILLED_TABLES_SQL, analyze_filled

    # As the services' role (`make up` loads as it): no table of its own, nothing analysed, nothing refused.
    engine = create_async_engine(get_settings().sqlalchemy_url)
    try:
        async with AsyncSession(engine) as as_service:
            assert (await as_service.execute(text(FILLED_TABLES_SQL))).all() == []
            await analyze_filled(as_service)
    finally:
        await engine.dispose()
    # As the owner: the filled tables get their statistics.
    await analyze_filled(session)
    counted = await session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'expected_report'"))
    assert counted.scalar() > 1000
