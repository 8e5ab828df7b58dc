"""The local issuer: key rotation seen by running services without a restart, service accounts, `make up`'s choice."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import ASGITransport, AsyncClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.issuer import LocalIssuer, running
from services.common.auth import Role
from services.common.errors import Unauthorized
from services.common.settings import Settings, get_settings
from tests.auth import Auth, TestAuthenticator
from tests.conftest import bind_app

AUDIT = "/api/v1/audit"  # a route for auditors


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[LocalIssuer]:
    """An issuer of the test's own (its keys rotate without disturbing the run's)."""
    with running(tmp_path / "issuer", audience="kz-health-plans-test") as served:
        yield served


@pytest.fixture
async def client(
    loaded: None, session: AsyncSession, raw_connection: Any, issuer: LocalIssuer
) -> AsyncIterator[AsyncClient]:
    """The registry API trusting `issuer`, keeping its keys 1 s, fetching them again on an unknown key id at once."""
    from services.api.main import create_app

    app = create_app()
    bind_app(app, session, raw_connection)
    app.state.authenticator = TestAuthenticator.for_issuer(issuer, jwks_ttl_s=1, jwks_refetch_s=0)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test") as http:
        yield http


async def test_a_rotated_in_key_is_accepted_and_a_removed_one_refused_without_a_restart(
    client: AsyncClient, issuer: LocalIssuer, raw_connection: Any
) -> None:
    await Auth(issuer, raw_connection).principal(Role.auditor, subject="auditor-1")
    old_kid = issuer.key_list()[0]["kid"]
    old = {"Authorization": f"Bearer {issuer.token('auditor-1')}"}
    assert (await client.get(AUDIT, headers=old)).status_code == 200  # the keys are now held by the service

    new_kid = issuer.rotate()
    new = {"Authorization": f"Bearer {issuer.token('auditor-1')}"}
    assert new_kid != old_kid
    assert (await client.get(AUDIT, headers=new)).status_code == 200  # an unknown key id: fetched again at once
    assert (await client.get(AUDIT, headers=old)).status_code == 200  # the old key is still published

    issuer.retire(old_kid)
    await asyncio.sleep(1.2)  # the keys held expire (OIDC_JWKS_TTL_S, 1 s here)
    refused = await client.get(AUDIT, headers=old)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["reason"] == "signed by a key the issuer does not publish"
    assert (await client.get(AUDIT, headers=new)).status_code == 200


async def test_an_unknown_key_id_does_not_make_the_service_hammer_the_issuer(issuer: LocalIssuer) -> None:
    fetches: list[str] = []

    async def counting(request: httpx.Request) -> httpx.Response:
        fetches.append(request.url.path)
        async with httpx.AsyncClient() as real:
            return await real.send(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(counting)) as http:
        authenticator = TestAuthenticator.for_issuer(issuer, jwks_ttl_s=300, jwks_refetch_s=60, http=http)
        await authenticator.claims(issuer.token("someone"))
        first = len(fetches)
        # A token naming a key id the issuer never published, sent again and again.
        stranger = RSAKey.generate_key(2048)
        now = int(time.time())
        claims = {"iss": issuer.url, "sub": "x", "aud": issuer.audience, "exp": now + 60, "iat": now}
        unknown = jwt.encode({"alg": "RS256", "kid": "never-published"}, claims, stranger)
        for _ in range(5):
            with pytest.raises(Unauthorized, match="not valid"):
                await authenticator.claims(unknown)
        assert len(fetches) - first <= 2  # one refetch (discovery and keys) in the refetch period, not five


async def test_a_service_account_gets_a_token_with_client_credentials(issuer: LocalIssuer) -> None:
    secret = issuer.add_client("partner-system")
    async with httpx.AsyncClient(base_url=issuer.url) as http:
        discovery = (await http.get("/.well-known/openid-configuration")).json()
        assert discovery["issuer"] == issuer.url and discovery["grant_types_supported"] == ["client_credentials"]
        answer = await http.post("/token", data={"grant_type": "client_credentials"}, auth=("partner-system", secret))
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        claims = await TestAuthenticator.for_issuer(issuer).claims(token)
        assert claims["sub"] == "partner-system" and claims["client_id"] == "partner-system"
        posted = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "client_id": "partner-system", "client_secret": secret},
        )
        assert posted.status_code == 200
        wrong = await http.post("/token", data={"grant_type": "client_credentials"}, auth=("partner-system", "x"))
        assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
        grant = await http.post("/token", data={"grant_type": "password"}, auth=("partner-system", secret))
        assert grant.status_code == 400


def test_the_signing_key_cannot_be_retired_and_keys_stay_out_of_the_repository(issuer: LocalIssuer) -> None:
    signing = next(k["kid"] for k in issuer.key_list() if k["signing"])
    with pytest.raises(ValueError, match="rotate first"):
        issuer.retire(signing)
    assert (issuer.directory / "keys.json").stat().st_mode & 0o077 == 0  # the owner's only
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
    assert ".local/" in ignored and str(Settings.model_fields["local_issuer_dir"].default).endswith(".local/issuer")


def test_make_up_runs_the_local_issuer_unless_an_external_one_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deploy.run import local_issuer

    monkeypatch.setenv("LOCAL_ISSUER_DIR", str(tmp_path))
    monkeypatch.setenv("LOCAL_ISSUER_PORT", "8109")
    try:
        monkeypatch.setenv("OIDC_ISSUERS", "")
        get_settings.cache_clear()
        started = local_issuer()
        assert started is not None and started.cmd[-2:] == ["deploy.issuer", "serve"]
        assert get_settings().trusted_issuers == ("http://127.0.0.1:8109",)  # the services trust it
        assert (tmp_path / "demo-integration.secret").exists()

        monkeypatch.setenv("OIDC_ISSUERS", "https://idp.example.kz/realms/moh")
        get_settings.cache_clear()
        assert local_issuer() is None
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


async def test_an_issuer_that_does_not_answer_is_503_not_401(tmp_path: Path) -> None:
    from services.common.auth.tokens import IssuerUnavailable
    from tests.live import free_port

    silent = LocalIssuer(tmp_path / "silent", f"http://127.0.0.1:{free_port()}", "kz-health-plans-test")
    authenticator = TestAuthenticator.for_issuer(silent, http_timeout_s=1)
    with pytest.raises(IssuerUnavailable) as refused:
        await authenticator.claims(silent.token("someone"))
    assert refused.value.status_code == 503


async def test_an_issuer_that_is_down_is_not_called_on_every_request(tmp_path: Path) -> None:
    from services.common.auth.tokens import IssuerUnavailable
    from tests.live import free_port

    calls: list[str] = []

    async def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    silent = LocalIssuer(tmp_path / "silent", f"http://127.0.0.1:{free_port()}", "kz-health-plans-test")
    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        authenticator = TestAuthenticator.for_issuer(silent, jwks_refetch_s=60, http=http)
        for _ in range(5):
            with pytest.raises(IssuerUnavailable):
                await authenticator.claims(silent.token("someone"))
    assert len(calls) == 1


async def test_a_token_seen_again_skips_only_its_signature_check(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.common.auth import tokens

    checked: list[str] = []
    real_decode = tokens.jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    authenticator = TestAuthenticator.for_issuer(issuer, clock_skew_s=0, jwks_ttl_s=2, verified_tokens=2)
    token = issuer.token("someone", ttl_s=6)
    for _ in range(3):
        assert (await authenticator.claims(token))["sub"] == "someone"
    assert len(checked) == 1  # verified once, remembered

    # The same header and claims under another signature is another text: checked, and refused.
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    with pytest.raises(Unauthorized, match="not valid"):
        await authenticator.claims(forged)
    assert checked[-1] == forged

    # Once the keys held expire and are fetched again, a remembered token is checked again with the new set.
    await asyncio.sleep(2.2)
    assert (await authenticator.claims(token))["sub"] == "someone"
    assert checked.count(token) == 2

    # The bound holds: two tokens remembered at most, the least recently used forgotten first.
    others = [issuer.token(f"other-{i}") for i in range(2)]
    for other in others:
        await authenticator.claims(other)
    await authenticator.claims(token)
    assert checked.count(token) == 3

    # Its times are checked on every request all the same: an expired token is refused though remembered.
    expires = (await authenticator.claims(token))["exp"]
    await asyncio.sleep(max(0.0, expires + 1 - time.time()))
    with pytest.raises(Unauthorized, match="not valid") as refused:
        await authenticator.claims(token)
    assert refused.value.errors[0]["reason"] == "expired"
