"""Bearer tokens: who is asking is a valid token of a trusted issuer with a current membership, nothing else."""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.issuer import LocalIssuer, running
from services.common.app import create_service_app
from services.common.auth import AuthenticatedDep, Principal, Role, allow
from tests.auth import Auth
from tests.conftest import bind_app

probe = APIRouter()


@probe.get("/probe/anyone", operation_id="probe_anyone")
async def anyone(who: AuthenticatedDep) -> dict[str, Any]:
    return {
        "subject": who.subject,
        "roles": sorted(who.roles),
        "organisation_id": who.organisation_id,
        "region_code": who.region_code,
        "expert_code": who.expert_code,
        "source_system": who.source_system,
        "label": who.label,
    }


@probe.get("/probe/admin", operation_id="probe_admin")
async def admin_only(who: Annotated[Principal, allow(Role.ministry_admin)]) -> dict[str, str]:
    return {"subject": who.subject}


@pytest.fixture
async def client(session: AsyncSession, raw_connection: Any) -> AsyncIterator[AsyncClient]:
    app = create_service_app(title="probe", description="", version="1", routers=[probe], openapi_tags=[])
    bind_app(app, session, raw_connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://probe.test") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def membership_for(auth: Auth, subject: str) -> None:
    await auth.headers(Role.auditor, subject=subject)


async def test_a_token_with_a_membership_says_who_is_asking(
    loaded: None, client: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    org = await raw_connection.fetchrow(
        "SELECT id, code, region_code FROM organisation WHERE region_code IS NOT NULL ORDER BY id LIMIT 1"
    )
    answer = await client.get("/probe/anyone", headers=auth.headers(Role.akimat, org["code"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["roles"] == ["akimat"]
    assert body["organisation_id"] == org["id"]
    assert body["region_code"] == org["region_code"]
    assert body["label"].endswith("@" + auth.issuer.url)

    expert = await client.get("/probe/anyone", headers=auth.headers(Role.expert, expert_code="E-7"))
    assert expert.json()["expert_code"] == "E-7"


async def test_no_token_is_401_and_another_role_403(client: AsyncClient, auth: Auth) -> None:
    missing = await client.get("/probe/anyone")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await client.get("/probe/anyone", headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await client.get("/probe/anyone", headers=bearer("not.a.jwt"))).status_code == 401
    assert (await client.get("/probe/admin", headers=auth.headers(Role.auditor))).status_code == 403
    assert (await client.get("/probe/admin", headers=auth.headers(Role.ministry_admin))).status_code == 200


async def test_expired_wrong_audience_unknown_issuer_and_wrongly_signed_tokens_are_401(
    client: AsyncClient, auth: Auth, tmp_path: Path
) -> None:
    subject = "someone"
    await membership_for(auth, subject)
    now = int(time.time())
    assert (await client.get("/probe/anyone", headers=bearer(auth.issuer.token(subject)))).status_code == 200

    expired = auth.issuer.token(subject, exp=now - 120, iat=now - 3600, nbf=now - 3600)
    answer = await client.get("/probe/anyone", headers=bearer(expired))
    assert answer.status_code == 401
    assert answer.json()["errors"] == [{"field": "Authorization", "reason": "expired"}]

    audience = await client.get("/probe/anyone", headers=bearer(auth.issuer.token(subject, aud="another-service")))
    assert audience.status_code == 401
    no_exp = auth.issuer.token(subject)
    assert (await client.get("/probe/anyone", headers=bearer(no_exp))).status_code == 200

    # Another issuer, even one whose keys are reachable, is not trusted; nor is a token claiming to be ours that
    # another issuer signed, under its own key id or under ours.
    with running(tmp_path / "other", audience=auth.issuer.audience) as other:
        unknown = await client.get("/probe/anyone", headers=bearer(other.token(subject)))
        assert unknown.status_code == 401
        assert unknown.json()["errors"][0]["reason"] == "unknown issuer"
        forged = other.token(subject, iss=auth.issuer.url)
        assert (await client.get("/probe/anyone", headers=bearer(forged))).status_code == 401
        our_kid = auth.issuer.key_list()[-1]["kid"]
        other_key = RSAKey.import_key(_signing_jwk(other))
        claims = {"iss": auth.issuer.url, "sub": subject, "aud": auth.issuer.audience, "exp": now + 60, "iat": now}
        forged_kid = jwt.encode({"alg": "RS256", "kid": our_kid}, claims, other_key)
        answer = await client.get("/probe/anyone", headers=bearer(forged_kid))
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["reason"] == "bad signature"


async def test_clock_skew_is_bounded(client: AsyncClient, auth: Auth) -> None:
    subject = "skewed"
    await membership_for(auth, subject)
    now = int(time.time())
    # Within the 60 s allowed: a token just expired, or not yet valid by a few seconds, passes.
    ok_expired = auth.issuer.token(subject, exp=now - 20)
    ok_future = auth.issuer.token(subject, nbf=now + 20, iat=now + 20)
    assert (await client.get("/probe/anyone", headers=bearer(ok_expired))).status_code == 200
    assert (await client.get("/probe/anyone", headers=bearer(ok_future))).status_code == 200
    # Beyond it: refused.
    late = auth.issuer.token(subject, exp=now - 90)
    early = auth.issuer.token(subject, nbf=now + 90)
    issued_ahead = auth.issuer.token(subject, iat=now + 90)
    for token in (late, early, issued_ahead):
        assert (await client.get("/probe/anyone", headers=bearer(token))).status_code == 401


async def test_a_valid_token_without_a_membership_is_403_and_a_revocation_works_at_once(
    client: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    stranger = await client.get("/probe/anyone", headers=bearer(auth.issuer.token("never-granted")))
    assert stranger.status_code == 403
    assert stranger.json()["errors"] == [{"field": "Authorization", "reason": "no membership"}]

    headers = await auth.headers(Role.auditor, subject="to-be-revoked")
    assert (await client.get("/probe/anyone", headers=headers)).status_code == 200
    membership_id = await raw_connection.fetchval(
        "SELECT id FROM membership WHERE issuer = $1 AND subject = 'to-be-revoked'", auth.issuer.url
    )
    await raw_connection.execute(
        "UPDATE membership_version SET valid_to = now() WHERE membership_id = $1 AND valid_to IS NULL", membership_id
    )
    await raw_connection.execute(
        "INSERT INTO membership_version (membership_id, version, active, roles, changed_by) "
        "VALUES ($1, 2, false, '{}', 'test')",
        membership_id,
    )
    assert (await client.get("/probe/anyone", headers=headers)).status_code == 403


def _signing_jwk(issuer: LocalIssuer) -> dict[str, Any]:
    import json

    data = json.loads((issuer.directory / "keys.json").read_text())
    return next(k["jwk"] for k in data["keys"] if k["kid"] == data["signing"])


def test_the_allowed_clock_skew_is_itself_bounded() -> None:
    from pydantic import ValidationError

    from services.common.settings import Settings

    assert Settings(oidc_clock_skew_s=300).oidc_clock_skew_s == 300
    with pytest.raises(ValidationError, match="oidc_clock_skew_s"):
        Settings(oidc_clock_skew_s=3600)
