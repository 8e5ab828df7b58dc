"""Tokens for the tests: real tokens signed by the run's local issuer, for memberships made in the test's transaction.

The `auth` fixture (tests/conftest.py) is an `Auth`. `auth.headers(role, organisation, ...)` signs a token for a
subject and asks for its membership; the membership is written through the test's connection (inside its
transaction, rolled back with it) before the next request of an app bound with `bind_app` reads memberships, or at
once when the call is awaited. Tokens without a membership, expired or otherwise bad ones come from `auth.issuer`
(a deploy.issuer.LocalIssuer: `auth.issuer.token(subject, exp=..., aud=...)`).
"""

import atexit
import os
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.issuer import LocalIssuer, running
from services.common.auth import Principal, Role
from services.common.auth.tokens import MEMBERSHIP_SQL, OidcAuthenticator


class TestAuthenticator(OidcAuthenticator):
    """The apps' authenticator in tests: the production one, trusting the run's issuer only."""

    __test__ = False  # not a test class

    @classmethod
    def for_issuer(cls, issuer: LocalIssuer, **kwargs: Any) -> "TestAuthenticator":
        return cls([issuer.url], issuer.audience, **kwargs)


_run: dict[str, Any] = {}


def run_issuer() -> LocalIssuer:
    """The run's own OpenID Connect issuer (deploy/issuer.py), started once per process: served from a thread on a
    free loopback port, keys in a temporary folder. OIDC_ISSUERS and OIDC_AUDIENCE name it, so that the apps under
    test and the services the tests run as processes trust it alone."""
    if "issuer" not in _run:
        folder = Path(tempfile.mkdtemp(prefix="test-issuer-"))
        serving = running(folder, audience="kz-health-plans-test")
        _run["issuer"] = serving.__enter__()
        _run["authenticator"] = TestAuthenticator.for_issuer(_run["issuer"])

        def _stop() -> None:
            serving.__exit__(None, None, None)
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(_stop)
    issuer: LocalIssuer = _run["issuer"]
    os.environ["OIDC_ISSUERS"] = issuer.url
    os.environ["OIDC_AUDIENCE"] = issuer.audience
    # It stands for the local issuer in this run: the loader grants its demo subjects their memberships
    # (data/identity/demo-memberships.json), and `python -m deploy.issuer token` signs with its keys.
    os.environ["LOCAL_ISSUER_PORT"] = issuer.url.rsplit(":", 1)[1]
    os.environ["LOCAL_ISSUER_DIR"] = str(issuer.directory)
    return issuer


def run_authenticator() -> "TestAuthenticator":
    run_issuer()
    authenticator: TestAuthenticator = _run["authenticator"]
    return authenticator


@dataclass(frozen=True)
class Wanted:
    subject: str
    roles: tuple[str, ...]
    organisation: int | str | None
    expert_code: str | None
    source_system: str | None


# The identity, its current version closed, and a new version numbered after the last.
IDENTITY_SQL = """
INSERT INTO membership (issuer, subject) VALUES ($1, $2)
ON CONFLICT (issuer, subject) DO UPDATE SET issuer = EXCLUDED.issuer
RETURNING id
"""
CLOSE_SQL = "UPDATE membership_version SET valid_to = now() WHERE membership_id = $1 AND valid_to IS NULL"
VERSION_SQL = """
INSERT INTO membership_version
    (membership_id, version, active, roles, organisation_id, source_system, expert_code, display_name, changed_by)
SELECT $1, coalesce((SELECT max(version) FROM membership_version WHERE membership_id = $1), 0) + 1,
       true, $2::text[],
       CASE WHEN $3::text IS NULL THEN NULL
            WHEN $3::text ~ '^[0-9]+$' THEN $3::int
            ELSE (SELECT id FROM organisation WHERE code = $3::text) END,
       $4, $5, $6, 'tests'
RETURNING organisation_id
"""


class Headers(dict[str, str]):
    """{"Authorization": "Bearer ..."}; awaiting it writes the pending memberships at once."""

    def __init__(self, auth: "Auth", token: str) -> None:
        super().__init__(Authorization=f"Bearer {token}")
        self._auth = auth

    def __await__(self) -> Generator[Any, None, "Headers"]:
        yield from self._auth.flush().__await__()
        return self


_current: "Auth | None" = None


async def flush_pending(raw_connection: Any) -> None:
    """Write the memberships the running test asked for (called by the apps' read dependency in tests)."""
    if _current is not None and _current.raw is raw_connection:
        await _current.flush()


class Auth:
    def __init__(self, issuer: LocalIssuer, raw_connection: Any) -> None:
        self.issuer = issuer
        self.raw = raw_connection
        self._pending: list[Wanted] = []
        self._granted: dict[str, Wanted] = {}

    @classmethod
    @contextmanager
    def for_test(cls, issuer: LocalIssuer, raw_connection: Any) -> Iterator["Auth"]:
        global _current
        helper = cls(issuer, raw_connection)
        _current = helper
        try:
            yield helper
        finally:
            _current = None

    def _want(
        self,
        role: Role | str | Iterable[Role | str],
        organisation: int | str | None,
        expert_code: str | None,
        source_system: str | None,
        subject: str | None,
    ) -> Wanted:
        roles = (role,) if isinstance(role, str) else tuple(role)
        names = tuple(sorted(Role(r).value for r in roles))
        if subject is None:
            parts = ["+".join(names)]
            for label, value in (("org", organisation), ("expert", expert_code), ("source", source_system)):
                if value is not None:
                    parts.append(f"{label}={value}")
            subject = "test:" + ":".join(parts)
        wanted = Wanted(subject, names, organisation, expert_code, source_system)
        if self._granted.get(subject) != wanted and wanted not in self._pending:
            self._pending.append(wanted)
        return wanted

    def token(
        self,
        role: Role | str | Iterable[Role | str],
        organisation: int | str | None = None,
        *,
        expert_code: str | None = None,
        source_system: str | None = None,
        subject: str | None = None,
    ) -> str:
        """A token of a subject whose membership has `role` (one or several) in `organisation` (its id, or its code)."""
        wanted = self._want(role, organisation, expert_code, source_system, subject)
        return self.issuer.token(wanted.subject)

    def headers(
        self,
        role: Role | str | Iterable[Role | str],
        organisation: int | str | None = None,
        *,
        expert_code: str | None = None,
        source_system: str | None = None,
        subject: str | None = None,
    ) -> Headers:
        token = self.token(role, organisation, expert_code=expert_code, source_system=source_system, subject=subject)
        return Headers(self, token)

    async def principal(
        self,
        role: Role | str | Iterable[Role | str],
        organisation: int | str | None = None,
        *,
        expert_code: str | None = None,
        source_system: str | None = None,
        subject: str | None = None,
    ) -> Principal:
        """The Principal a request with such a token would get (for calling services directly)."""
        wanted = self._want(role, organisation, expert_code, source_system, subject)
        await self.flush()
        row = await self.raw.fetchrow(MEMBERSHIP_SQL, self.issuer.url, wanted.subject)
        return Principal(
            issuer=self.issuer.url,
            subject=wanted.subject,
            membership_id=row["id"],
            roles=frozenset(Role(r) for r in row["roles"]),
            organisation_id=row["organisation_id"],
            region_code=row["region_code"],
            source_system=row["source_system"],
            expert_code=row["expert_code"],
            display_name=row["display_name"],
        )

    async def flush(self) -> None:
        while self._pending:
            wanted = self._pending.pop(0)
            organisation = None if wanted.organisation is None else str(wanted.organisation)
            membership_id = await self.raw.fetchval(IDENTITY_SQL, self.issuer.url, wanted.subject)
            await self.raw.execute(CLOSE_SQL, membership_id)
            organisation_id = await self.raw.fetchval(
                VERSION_SQL,
                membership_id,
                list(wanted.roles),
                organisation,
                wanted.source_system,
                wanted.expert_code,
                wanted.subject,
            )
            if organisation is not None and organisation_id is None:
                raise LookupError(f"no organisation {wanted.organisation!r} (for {wanted.subject})")
            self._granted[wanted.subject] = wanted
