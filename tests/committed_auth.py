"""Tokens for apps that do not run in the test's transaction: the services run as processes (tests.live) and the
apps with sessions of their own. Their memberships are committed in the database they read, so every request of
any transaction sees them.

    headers = await committed_headers(live_database, Role.ministry_admin, subject="live-admin")

The `auth` fixture (tests/auth.py) is the way for apps bound to the test's transaction; this is for the others.
A membership made here stays in its database (a test database, dropped at the end of the run); making it again
changes nothing.
"""

from collections.abc import Iterable
from typing import Any

import asyncpg

from services.common.auth import Role
from tests.auth import CLOSE_SQL, IDENTITY_SQL, VERSION_SQL, run_issuer

_HELD = """
SELECT v.roles, v.organisation_id, v.source_system FROM membership m
JOIN membership_version v ON v.membership_id = m.id AND v.valid_to IS NULL
WHERE m.issuer = $1 AND m.subject = $2
"""


async def committed_headers(
    database: str | asyncpg.Connection,
    role: Role | Iterable[Role],
    organisation: int | str | None = None,
    *,
    subject: str,
    source_system: str | None = None,
) -> dict[str, str]:
    """{"Authorization": "Bearer ..."} of the run's issuer for `subject`, whose membership (`role` in
    `organisation`, its id or code) is committed in `database` (a URL, or a connection outside any transaction)."""
    issuer = run_issuer()
    roles = sorted(Role(r).value for r in ((role,) if isinstance(role, str) else role))
    conn: Any = await asyncpg.connect(database) if isinstance(database, str) else database
    try:
        async with conn.transaction():
            held = await conn.fetchrow(_HELD, issuer.url, subject)
            organisation_id = None
            if organisation is not None:
                organisation_id = await conn.fetchval(
                    "SELECT id FROM organisation WHERE id::text = $1 OR code = $1", str(organisation)
                )
            if held is None or (list(held["roles"]), held["organisation_id"], held["source_system"]) != (
                roles,
                organisation_id,
                source_system,
            ):
                membership_id = await conn.fetchval(IDENTITY_SQL, issuer.url, subject)
                await conn.execute(CLOSE_SQL, membership_id)
                await conn.fetchval(
                    VERSION_SQL,
                    membership_id,
                    roles,
                    None if organisation is None else str(organisation),
                    source_system,
                    None,
                    subject,
                )
    finally:
        if isinstance(database, str):
            await conn.close()
    return {"Authorization": f"Bearer {issuer.token(subject)}"}


class Committed:
    """Committed memberships of one subject per role, with `headers(role)` as the `auth` fixture has (so that
    tests.guarantee.conftest.RoleOfRoute can sign requests with them)."""

    def __init__(self, by_role: dict[Role, dict[str, str]]) -> None:
        self.by_role = by_role

    def headers(self, role: Role) -> dict[str, str]:
        return self.by_role[role]

    @classmethod
    async def grant(cls, database: str, roles: Iterable[Role], prefix: str = "test:committed") -> "Committed":
        return cls({r: await committed_headers(database, r, subject=f"{prefix}-{r.value}") for r in roles})
