"""Fixtures of the scoring tests: the seed 004 criteria set loaded into the test's own transaction, and a
client of the scoring app bound to that transaction. They do not depend on the `loaded` fixture."""

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from tests.auth import Auth
from tests.conftest import ISSUER, bind_app


async def _clinical_profiles(session: AsyncSession) -> None:
    """The clinical profiles a technology names (Annex 1's vocabulary), as the loader stores them, unless loaded."""
    from sqlalchemy.dialects.postgresql import insert

    from services.common.models.guarantee import ClinicalProfile
    from services.common.settings import get_settings

    data = json.loads((get_settings().data_dir / "guarantee" / "clinical-profiles.json").read_text(encoding="utf-8"))
    rows = [
        {"code": p["code"], "name_kk": p["name_kk"], "name_ru": p["name_ru"], "position": p["order"], "note": p["note"]}
        for p in data["profiles"]
    ]
    await session.execute(insert(ClinicalProfile).values(rows).on_conflict_do_nothing())


@pytest.fixture
async def criteria(session: AsyncSession) -> Any:
    """Seed 004 (Order No. 129) as the version in force from 2025-11-01, inside the test's transaction."""
    from services.scoring.criteria.importer import load_criteria_set, read_seed

    version = await load_criteria_set(session, read_seed())
    await _clinical_profiles(session)
    await session.commit()  # a savepoint: rolled back with the test
    # Plain values: a refused request rolls the session back, which expires ORM instances.
    return SimpleNamespace(id=version.id, code=version.code)


# The roles the scoring tests act in by default: one membership holding those of every HTMC write but the expert's
# (an expert scores as themselves: `expert_headers`). Tests of who may do what use one role at a time.
STAFF = (Role.ministry_admin, Role.commission_secretary, Role.commission)


class ScoringClient(AsyncClient):
    """The scoring app's test client: sends a token of `STAFF` unless a request names its own; `tokens` makes others."""

    tokens: Auth


def demo_headers(subject: str) -> dict[str, str]:
    """A token of a demo subject of the run's issuer (data/identity/demo-memberships.json, granted by the loader:
    committed, for the apps that run on their own database connections and the services run as processes)."""
    return {"Authorization": f"Bearer {ISSUER.token(subject)}"}


def tokens(client: AsyncClient) -> Auth:
    """The `auth` fixture of the test the scoring client was made for."""
    found: Auth = getattr(client, "tokens")  # noqa: B009 (conftest may be imported twice: no isinstance)
    return found


def expert_headers(client: AsyncClient, code: str) -> dict[str, str]:
    """A token of the expert `code` (their membership's expert code)."""
    return tokens(client).headers(Role.expert, expert_code=code)


def label(client: AsyncClient, subject: str) -> str:
    """What a change made with a token of `subject` records as who made it (Principal.label)."""
    return f"{subject}@{tokens(client).issuer.url}"


def signed_in(client: AsyncClient, role: Role, subject: str, **headers: str) -> dict[str, str]:
    """The headers of a request made by `subject` holding `role`, with `headers` added (an If-Match)."""
    return {**tokens(client).headers(role, subject=subject), **headers}


@pytest.fixture
async def client(criteria: Any, session: AsyncSession, raw_connection: Any, auth: Auth) -> AsyncIterator[AsyncClient]:
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
    headers = auth.headers(STAFF, subject="scoring-staff")
    async with ScoringClient(transport=ASGITransport(app=app), base_url="http://scoring.test", headers=headers) as c:
        c.tokens = auth
        yield c


async def if_match(client: AsyncClient, url: str) -> dict[str, str]:
    """The If-Match header naming the current ETag of the resource at `url` (a state transition needs it)."""
    got = await client.get(url)
    assert got.status_code == 200, got.text
    return {"If-Match": got.headers["ETag"]}
