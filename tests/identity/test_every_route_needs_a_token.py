"""Every endpoint of both services needs a token, but the public ones: a new endpoint cannot forget it.

The walk takes each operation of each service's OpenAPI document, sends it without a token (path parameters filled
with "1", no body) and lists every one that does not answer 401. The public ones (AUTH.md, README "Who may do
what") answer without a token, and are listed here by method and path template.
"""

import re
from typing import Any

from httpx import AsyncClient

# Reads anyone may make: the documents, measures, indicators (with their targets), the guarantee programme's
# annexes (Annex 1 ceiling volumes, Annex 2 payment methods, regions, clinical profiles), the access norms, the
# vocabularies (completion forms, organisations) and the documents' data-quality findings; health checks.
PUBLIC: dict[str, set[tuple[str, str]]] = {
    "api": {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/api/v1/documents"),
        ("GET", "/api/v1/documents/{slug}"),
        ("GET", "/api/v1/documents/{slug}/history"),
        ("GET", "/api/v1/documents/{slug}/directions"),
        ("GET", "/api/v1/documents/{slug}/financing"),
        ("GET", "/api/v1/measures"),
        ("GET", "/api/v1/measures/{measure_id}"),
        ("GET", "/api/v1/measures/{measure_id}/history"),
        ("GET", "/api/v1/indicators"),
        ("GET", "/api/v1/indicators/{indicator_id}"),
        ("GET", "/api/v1/completion-forms"),
        ("GET", "/api/v1/organisations"),
        ("GET", "/api/v1/organisations/{code}"),
        ("GET", "/api/v1/providers"),  # the Fund's published register of providers (reference data, no figures)
        ("GET", "/api/v1/data-quality"),
        ("GET", "/api/v1/regions"),
        ("GET", "/api/v1/regions/{kato_code}"),
        ("GET", "/api/v1/clinical-profiles"),
        ("GET", "/api/v1/clinical-profiles/{code}"),
        ("GET", "/api/v1/ceiling-volumes"),
        ("GET", "/api/v1/ceiling-volumes/{kato_code}/{profile}"),
        ("GET", "/api/v1/guarantee-programme/data-quality"),
        ("GET", "/api/v1/payment-methods"),
        ("GET", "/api/v1/access-norms"),
        ("GET", "/api/v1/access-norms/evaluation"),
        ("GET", "/api/v1/access-norms/{code}"),
        ("GET", "/api/v1/access-norms/{code}/history"),
        # Achievement as published: accepted actuals only (drafts need a token), the rules and their history.
        ("GET", "/api/v1/achievement"),
        ("GET", "/api/v1/indicators/{indicator_id}/achievement"),
        ("GET", "/api/v1/indicators/{indicator_id}/rule"),
        ("GET", "/api/v1/indicators/{indicator_id}/rule/history"),
    },
    "scoring": {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        # The HTMC list is published by the ministry; the scores and decisions behind it need a token.
        ("GET", "/api/v1/htmc-list"),
        ("GET", "/api/v1/htmc-list/history"),
    },
}
METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m.upper(), path) for path, item in spec["paths"].items() for m in METHODS if m in item]


async def test_every_non_public_endpoint_answers_401_without_a_token(
    services: dict[str, tuple[Any, AsyncClient]],
) -> None:
    offenders: list[str] = []
    walked = 0
    for name, (app, client) in services.items():
        for method, template in operations(app.openapi()):
            if (method, template) in PUBLIC[name]:
                continue
            walked += 1
            path = re.sub(r"\{[^}]+\}", "1", template)
            answer = await client.request(method, path)
            if answer.status_code != 401:
                offenders.append(f"{name}: {method} {template} answered {answer.status_code}")
    assert walked > 50
    assert not offenders, f"{len(offenders)} endpoints answer without a token:\n" + "\n".join(offenders)


async def test_the_public_endpoints_exist_and_the_documentation_is_open(
    services: dict[str, tuple[Any, AsyncClient]],
) -> None:
    for name, (app, client) in services.items():
        documented = set(operations(app.openapi()))
        assert PUBLIC[name] <= documented, f"{name}: public routes gone: {PUBLIC[name] - documented}"
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 200, f"{name} {path}"


async def test_every_endpoint_that_declares_a_token_documents_401_and_403(
    services: dict[str, tuple[Any, AsyncClient]],
) -> None:
    for app, _ in services.values():
        for item in app.openapi()["paths"].values():
            for method in METHODS:
                operation = item.get(method)
                if operation and operation.get("security"):
                    assert {"401", "403"} <= set(operation["responses"]), operation["operationId"]
