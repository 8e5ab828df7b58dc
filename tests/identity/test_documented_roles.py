"""The OpenAPI documents name, per operation, the roles that may call it (`x-roles`, a "Roles: ..." line in the
description), and the roles they name are the ones the routes enforce.

* Every operation of both services is either public (the list in test_every_route_needs_a_token: `x-roles: []`,
  `security: []`, "Public: no token needed") or names at least one role, and every role it names is a role.
* Enforced: every operation that needs a token refuses each role it does not name with 403 (the role check, not a
  scope check); on the reads and on the writes whose JSON body FastAPI reads before the handler runs (sent without
  it), each role it names gets past the role check (neither 401 nor 403). Nothing is changed by any of these.
"""

import re
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from services.common.contract import PUBLIC_LINE
from tests.auth import Auth
from tests.identity.test_every_route_needs_a_token import PUBLIC, operations

ROLES = {r.value for r in Role}


def _operation(spec: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    operation: dict[str, Any] = spec["paths"][template][method.lower()]
    return operation


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", template)


def _passes_before_the_handler(method: str, operation: dict[str, Any]) -> bool:
    """A read, or a write whose JSON body is read (and, missing, refused with 422) before its handler runs."""
    body = operation.get("requestBody")
    return method == "GET" or bool(body and body.get("required") and list(body["content"]) == ["application/json"])


async def _audit_rows(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT count(*) FROM audit_log")) or 0)


async def test_every_operation_is_public_or_names_its_roles(services: dict[str, tuple[Any, AsyncClient]]) -> None:
    named = 0
    for name, (app, _) in services.items():
        spec = app.openapi()
        for method, template in operations(spec):
            operation = _operation(spec, method, template)
            where = f"{name}: {method} {template}"
            roles = operation.get("x-roles")
            assert isinstance(roles, list), f"{where} documents no x-roles"
            description = operation.get("description", "")
            if (method, template) in PUBLIC[name]:
                assert roles == [], f"{where} is public but names roles {roles}"
                assert operation.get("security") == [], f"{where} is public: security must be []"
                assert description.endswith(PUBLIC_LINE), f"{where}: {description!r}"
                continue
            assert roles, f"{where} is not public and names no role"
            assert set(roles) <= ROLES and len(set(roles)) == len(roles), f"{where}: {roles}"
            assert operation.get("security"), f"{where} needs a token but declares no security"
            assert description.endswith(f"Roles: {', '.join(roles)}"), f"{where}: {description!r}"
            named += 1
    assert named > 60


async def test_the_documented_roles_are_the_enforced_ones(
    services: dict[str, tuple[Any, AsyncClient]], auth: Auth, session: AsyncSession
) -> None:
    tokens = {role: await auth.headers(role) for role in Role}
    audited = await _audit_rows(session)
    refused = admitted = 0
    wrong: list[str] = []
    for name, (app, client) in services.items():
        spec = app.openapi()
        for method, template in operations(spec):
            operation = _operation(spec, method, template)
            documented = set(operation["x-roles"])
            if not documented:
                continue
            check_admitted = _passes_before_the_handler(method, operation)
            for role in Role:
                if role.value not in documented:
                    answer = await client.request(method, _path(template), headers=tokens[role])
                    reasons = {e["field"]: e["reason"] for e in answer.json().get("errors", [])}
                    if answer.status_code != 403 or reasons != {"Authorization": "role not allowed"}:
                        wrong.append(f"{name}: {method} {template} as {role}: {answer.status_code}, not documented")
                    refused += 1
                elif check_admitted:
                    answer = await client.request(method, _path(template), headers=tokens[role])
                    if answer.status_code in (401, 403):
                        wrong.append(f"{name}: {method} {template} as {role}: {answer.status_code}, documented")
                    admitted += 1
    assert not wrong, f"{len(wrong)} answers differ from the documented roles:\n" + "\n".join(wrong)
    assert refused > 500 and admitted > 150, (refused, admitted)
    assert await _audit_rows(session) == audited
