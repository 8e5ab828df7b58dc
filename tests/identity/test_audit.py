"""The audit log: a change and a bulk upload are recorded in the change's transaction, and rows never change."""

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import record_batch, record_change
from services.common.auth import Role
from tests.auth import Auth


async def test_a_change_is_recorded_with_who_and_before_and_after(
    session: AsyncSession, auth: Auth, raw_connection: Any
) -> None:
    who = await auth.principal(Role.ministry_admin, subject="admin-1")
    before = {"amount": Decimal("1234.50"), "on": dt.date(2026, 1, 1), "name": "Қазақстан"}
    after = {"amount": Decimal("99.10"), "on": dt.date(2026, 2, 1), "name": "Казахстан"}
    await record_change(session, who, "update", "measure", 12, before, after)
    await session.commit()  # the test's savepoint

    row = await raw_connection.fetchrow("SELECT * FROM audit_log WHERE resource = 'measure' AND resource_id = '12'")
    assert row["actor"] == who.label
    assert row["subject"] == "admin-1" and row["issuer"] == auth.issuer.url
    assert row["membership_id"] == who.membership_id
    assert list(row["roles"]) == ["ministry_admin"]
    assert row["action"] == "update"
    assert row["before"] == {"on": "2026-01-01", "name": "Қазақстан", "amount": "1234.50"}
    assert row["after"] == {"on": "2026-02-01", "name": "Казахстан", "amount": "99.10"}


async def test_a_bulk_upload_is_one_row_with_counts_and_checksum(
    session: AsyncSession, auth: Auth, raw_connection: Any
) -> None:
    who = await auth.principal(Role.integration, source_system="e-densaulyq")
    await record_batch(session, who, "executed_volumes", "b-1", {"rows": 1000, "refused": 2}, "ab" * 32)
    await session.commit()
    # Of this principal: uploads other tests committed in the run's database stay on record (append-only).
    rows = await raw_connection.fetch(
        "SELECT * FROM audit_log WHERE resource = 'executed_volumes' AND actor = $1", who.label
    )
    assert len(rows) == 1
    assert rows[0]["action"] == "bulk_upload" and rows[0]["resource_id"] == "b-1"
    assert rows[0]["counts"] == {"rows": 1000, "refused": 2} and rows[0]["checksum"] == "ab" * 32


async def test_a_change_rolled_back_leaves_no_audit_row(session: AsyncSession, auth: Auth, raw_connection: Any) -> None:
    who = await auth.principal(Role.ministry_admin)
    await record_change(session, who, "create", "document", "x", None, {"slug": "x"})
    await session.rollback()
    assert await raw_connection.fetchval("SELECT count(*) FROM audit_log WHERE resource = 'document'") == 0


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"])
async def test_audit_rows_cannot_be_changed_even_by_the_owner(
    statement: str, session: AsyncSession, auth: Auth, raw_connection: Any
) -> None:
    who = await auth.principal(Role.ministry_admin)
    await record_change(session, who, "create", "document", "y", None, {"slug": "y"})
    await session.commit()
    await raw_connection.execute("SAVEPOINT refused")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await raw_connection.execute(statement)
    await raw_connection.execute("ROLLBACK TO SAVEPOINT refused")
    assert await raw_connection.fetchval("SELECT actor FROM audit_log WHERE resource_id = 'y'") == who.label
