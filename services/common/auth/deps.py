"""The request dependencies that say who is asking and whether their roles allow the route.

    who: Annotated[Principal, allow(Role.ministry_admin)]      # 401 without a valid token, 403 for other roles
    who: AuthenticatedDep                                      # any valid token with a membership

A route with neither is public (the README lists which are). Scope within a role (an executor's organisation, an
akimat's region, an expert's assignments) is checked by the service, which answers 404 for what belongs to
another, as if it did not exist.

The roles a route admits are read from its dependency tree (`roles_of`), which is how the OpenAPI documents name
them per operation (services.common.contract): each dependency that checks roles carries them as `ALLOWED_ROLES`.
"""

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.auth.principal import Principal
from services.common.auth.roles import Role
from services.common.db import ReadPoolDep
from services.common.errors import FieldError, Forbidden, Unauthorized


class Authenticator(Protocol):
    """Turns a bearer token into a Principal, or raises Unauthorized. Built in the app's lifespan
    (`app.state.authenticator`)."""

    async def principal(self, request: Request, token: str, reader: Any = None) -> Principal:
        """`reader`: where memberships are read (the request's read pool, `get_read_pool`; a test's connection)."""
        ...


_bearer = HTTPBearer(auto_error=False, description="An OpenID Connect access token (JWT) of a trusted issuer.")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    reader: ReadPoolDep,
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("this resource needs a bearer token", [FieldError("Authorization", "missing")])
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.principal(request, credentials.credentials, reader)


# Any role with a membership passes (a scope check in the service may narrow it).
ALLOWED_ROLES = "allowed_roles"
current_principal.allowed_roles = frozenset(Role)  # type: ignore[attr-defined]

AuthenticatedDep = Annotated[Principal, Depends(current_principal)]


def allow(*roles: Role, hint: str | None = None) -> Any:
    """A dependency that admits a principal holding any of `roles` and refuses others with 403 (its detail adds
    `hint`, e.g. the route another role uses instead)."""
    names = ", ".join(sorted(roles))
    detail = f"this action is for: {names}" + (f"; {hint}" if hint else "")

    async def _allowed(who: AuthenticatedDep) -> Principal:
        if not who.has(*roles):
            raise Forbidden(
                detail,
                [FieldError("Authorization", "role not allowed")],
                code="not_your_role",  # services.common.review.Refusal.not_your_role
            )
        return who

    _allowed.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(_allowed)


def roles_of(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route admits, from every role check in its dependency tree (a caller must pass each of them):
    None for a public route (no check at all)."""
    admitted: frozenset[Role] | None = None
    pending = [dependant]
    while pending:
        node = pending.pop()
        roles = getattr(node.call, ALLOWED_ROLES, None)
        if roles is not None:
            admitted = roles if admitted is None else admitted & roles
        pending.extend(node.dependencies)
    return admitted
