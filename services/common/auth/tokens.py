"""Bearer tokens of trusted OpenID Connect issuers, checked with joserfc, and the membership they map to.

A token is accepted when:
- its `iss` is one of the trusted issuers (OIDC_ISSUERS), exactly;
- its signature verifies with a key of that issuer's JWKS (found through `{iss}/.well-known/openid-configuration`),
  with an accepted asymmetric algorithm;
- its `aud` names OIDC_AUDIENCE, it has a `sub`, and `exp`, `nbf` and `iat` hold within OIDC_CLOCK_SKEW_S;
- a current, active membership exists for its (`iss`, `sub`).

Keys are cached per issuer for OIDC_JWKS_TTL_S. A token naming a key id the cache does not hold fetches the JWKS
again at once (the issuer rotated a key in), at most every OIDC_JWKS_REFETCH_S; a key the issuer removed stops being
accepted when the cache expires. No restart is needed for either.

A token's verified signature is remembered (`_Verified`, up to OIDC_VERIFIED_TOKENS tokens per process), so the same
token sent again skips the RSA or EC check and its decoding: a third of the check's cost, on every request of a client
that keeps its token for its hour. The remembered result holds only while the key set that verified it is the
issuer's current one; the times, issuer and audience are checked on every request all the same.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from fastapi import Request
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from services.common.auth.principal import Principal
from services.common.auth.roles import Role
from services.common.errors import DomainError, FieldError, Forbidden, Unauthorized
from services.common.settings import Settings

log = logging.getLogger(__name__)

# The current active membership of an identity, with its organisation's region (an akimat's). Every request runs
# this: the membership first, by its unique (issuer, subject), then its current version (a LATERAL subquery the
# planner cannot flatten), so the plan cannot become a scan of all memberships per version, as the generic plan of a
# plain join did where the statistics predated the grants (12.9 ms for 300 memberships, on every request; 0.2 ms).
MEMBERSHIP_SQL = """
SELECT m.id, v.roles, v.organisation_id, o.region_code, v.source_system, v.expert_code, v.display_name
FROM membership m
CROSS JOIN LATERAL (
    SELECT cv.roles, cv.organisation_id, cv.source_system, cv.expert_code, cv.display_name
    FROM membership_version cv
    WHERE cv.membership_id = m.id AND cv.valid_to IS NULL AND cv.active
    LIMIT 1
) v
LEFT JOIN organisation o ON o.id = v.organisation_id
WHERE m.issuer = $1 AND m.subject = $2
"""


class IssuerUnavailable(DomainError):
    """The issuer's discovery document or keys could not be fetched, and none are held: the token cannot be checked
    now (it is not known to be bad)."""

    status_code = 503
    title = "Service unavailable"
    type_slug = "issuer-unavailable"


def _refuse(reason: str) -> Unauthorized:
    return Unauthorized(f"the bearer token is not valid: {reason}", [FieldError("Authorization", reason)])


@dataclass
class _IssuerKeys:
    keys: KeySet | None = None
    fetched_at: float = float("-inf")  # time.monotonic() of the last fetch attempt that succeeded
    tried_at: float = float("-inf")  # of the last attempt, successful or not
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class _Verified:
    """A token whose signature `keys` verified, and its claims."""

    keys: KeySet
    claims: dict[str, Any]


class OidcAuthenticator:
    """The `Authenticator` of the services (services.common.auth.deps): a token of a trusted issuer -> Principal."""

    def __init__(
        self,
        issuers: Sequence[str],
        audience: str,
        *,
        clock_skew_s: int = 60,
        jwks_ttl_s: float = 300,
        jwks_refetch_s: float = 10,
        algorithms: Sequence[str] = ("RS256", "PS256", "ES256"),
        http_timeout_s: float = 5,
        http: httpx.AsyncClient | None = None,
        verified_tokens: int = 4096,
    ) -> None:
        self.issuers = frozenset(i.rstrip("/") for i in issuers)
        self.audience = audience
        self.clock_skew_s = clock_skew_s
        self.jwks_ttl_s = jwks_ttl_s
        self.jwks_refetch_s = min(jwks_refetch_s, jwks_ttl_s)  # an expired set is always fetched again
        self.algorithms = list(algorithms)
        self._timeout = http_timeout_s
        self._http = http  # given: used for every fetch, and closed by its owner
        self._keys: dict[str, _IssuerKeys] = {}
        # Least recently used first; bounded, so a flood of distinct tokens costs memory only up to the bound.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._verified_max = verified_tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> "OidcAuthenticator":
        return cls(
            settings.trusted_issuers,
            settings.oidc_audience,
            clock_skew_s=settings.oidc_clock_skew_s,
            jwks_ttl_s=settings.oidc_jwks_ttl_s,
            jwks_refetch_s=settings.oidc_jwks_refetch_s,
            algorithms=[a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()],
            http_timeout_s=settings.oidc_http_timeout_s,
            verified_tokens=settings.oidc_verified_tokens,
        )

    async def aclose(self) -> None:
        """Nothing to release: each fetch uses a client of its own unless one was given (its owner closes it)."""

    # -------------------------------------------------------------------------------------------- the token

    async def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its issuer, signature, audience and times are checked; Unauthorized otherwise."""
        try:
            unverified = jws.extract_compact(token.encode("ascii"))
            header = unverified.headers()
            claimed = orjson.loads(unverified.payload)
        except (JoseError, ValueError, UnicodeError):
            raise _refuse("malformed") from None
        if not isinstance(claimed, dict):
            raise _refuse("malformed")
        issuer = claimed.get("iss")
        if not isinstance(issuer, str) or issuer.rstrip("/") not in self.issuers:
            raise _refuse("unknown issuer")
        kid = header.get("kid")
        if header.get("alg") not in self.algorithms:
            raise _refuse("signature algorithm not accepted")
        keys = await self._keys_for(issuer.rstrip("/"), kid if isinstance(kid, str) else None)
        seen = self._verified.get(token)
        if seen is not None and seen.keys is keys:
            self._verified.move_to_end(token)
            claims = seen.claims
        else:
            try:
                claims = jwt.decode(token, keys, algorithms=self.algorithms).claims
            except JoseError:
                raise _refuse("bad signature") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=self.clock_skew_s,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise _refuse(_reason(exc)) from None
        if seen is None or seen.keys is not keys:  # verified now, and valid: remembered
            self._verified[token] = _Verified(keys, claims)
            self._verified.move_to_end(token)
            while len(self._verified) > self._verified_max:
                self._verified.popitem(last=False)
        return claims

    async def principal(self, request: Request, token: str, reader: Any = None) -> Principal:
        """Who the token is: its membership, read through `reader` (the request's read pool or, in tests, its
        connection; the app's read pool when not given)."""
        claims = await self.claims(token)
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        if reader is None:
            reader = request.app.state.read_pool
        row = await reader.fetchrow(MEMBERSHIP_SQL, issuer, subject)
        if row is None:
            raise NoMembership()
        return Principal(
            issuer=issuer,
            subject=subject,
            membership_id=row["id"],
            roles=frozenset(Role(r) for r in row["roles"]),
            organisation_id=row["organisation_id"],
            region_code=row["region_code"],
            source_system=row["source_system"],
            expert_code=row["expert_code"],
            display_name=row["display_name"],
        )

    # -------------------------------------------------------------------------------------------- the keys

    async def _keys_for(self, issuer: str, kid: str | None) -> KeySet:
        entry = self._keys.setdefault(issuer, _IssuerKeys())
        now = time.monotonic()
        if entry.keys is not None and now - entry.fetched_at < self.jwks_ttl_s and _holds(entry.keys, kid):
            return entry.keys
        async with entry.lock:
            now = time.monotonic()
            fresh = entry.keys is not None and now - entry.fetched_at < self.jwks_ttl_s
            if fresh and _holds(entry.keys, kid):
                return entry.keys  # type: ignore[return-value]
            # Expired, or a key id not held (a rotation): fetch again, but at most once every refetch period, so that
            # neither tokens naming unknown key ids nor an issuer that is down make every request call the issuer.
            if now - entry.tried_at >= self.jwks_refetch_s:
                entry.tried_at = now
                try:
                    entry.keys = await self._fetch(issuer)
                    entry.fetched_at = time.monotonic()
                    fresh = True
                except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
                    log.warning("keys of issuer %s could not be fetched: %s", issuer, exc)
                    if not fresh:
                        entry.keys = None
            if entry.keys is None or not fresh:
                raise IssuerUnavailable("the keys of the token's issuer could not be fetched; retry later")
            if not _holds(entry.keys, kid):
                raise _refuse("signed by a key the issuer does not publish")
            return entry.keys

    async def _fetch(self, issuer: str) -> KeySet:
        if self._http is not None:
            return await _fetch_keys(self._http, issuer)
        # A client of its own per fetch (rare: once per TTL or rotation), so the authenticator is bound to no loop.
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as http:
            return await _fetch_keys(http, issuer)


async def _fetch_keys(http: httpx.AsyncClient, issuer: str) -> KeySet:
    discovery = await http.get(f"{issuer}/.well-known/openid-configuration")
    discovery.raise_for_status()
    document = discovery.json()
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
    jwks = await http.get(document["jwks_uri"])
    jwks.raise_for_status()
    published = jwks.json()
    # Only public signing keys: a symmetric ("oct") key in a JWKS would let anyone who read it sign.
    usable = [k for k in published.get("keys", []) if k.get("kty") in ("RSA", "EC", "OKP") and "d" not in k]
    return KeySet.import_key_set({"keys": usable}) if usable else KeySet([])


class NoMembership(Forbidden):
    """A valid token whose identity has no current membership (never granted, or revoked): 403, as the identity is
    known and another token of it would not help."""

    def __init__(self) -> None:
        super().__init__(
            "the token is valid but its identity has no membership here (ask the ministry administrator)",
            [FieldError("Authorization", "no membership")],
        )


def _holds(keys: KeySet | None, kid: str | None) -> bool:
    if keys is None or not keys.keys:
        return False
    if kid is None:
        return True
    return any(k.kid == kid for k in keys.keys)


def _reason(exc: JoseError) -> str:
    if isinstance(exc, ExpiredTokenError):
        return "expired"
    return str(exc.description or exc.error)
