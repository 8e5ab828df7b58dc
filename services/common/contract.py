"""What the OpenAPI document promises equals what is sent.

* Every error a route can answer is documented as `application/problem+json` with the `Problem` schema (FastAPI
  documents its 422 as `application/json`; the handlers in errors.py send problem+json).
* Statuses every route of a kind can answer are documented on each of them: 400 (a body that cannot be read),
  413 (a body over the size cap) and 422 on routes with a body, 503 (the database is gone) on every route but
  the health checks; 401 and 403 on every route that needs a bearer token.
* Every operation names the roles that may call it (`x-roles`, and a "Roles: ..." line in its description), read
  from the role checks in its route's dependency tree (services.common.auth.deps.roles_of); a public operation has
  `x-roles: []` and `security: []` (no lock in Swagger UI) and says "Public: no token needed".
* A NUL character in a query or path parameter is refused with 422 naming the parameter, before routing code can
  hand it to Postgres (which cannot store it in text).
"""

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute, compile_path

from services.common.auth.deps import roles_of
from services.common.auth.roles import Role
from services.common.errors import FieldError, problem_response

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
GENERIC = {
    400: "The body could not be read (not UTF-8, or not the declared format)",
    413: "The request body is larger than the cap",
    401: "No bearer token, or one that is not valid (expired, wrongly signed, another audience, an unknown issuer)",
    403: "The token's membership does not allow this action (or it has no membership)",
    422: "Validation failed: the fields and reasons are listed",
    503: "The database does not answer; try again",
}
METHODS = ("get", "put", "post", "patch", "delete")


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document in place so that every error response is problem+json."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            extra: list[int] = []
            if "requestBody" in operation:
                extra += [400, 413, 422]
            if operation.get("parameters"):
                extra.append(422)
            if operation.get("security"):  # a route that needs a token (services.common.auth.deps)
                extra += [401, 403]
            if not path.startswith("/health/"):
                extra.append(503)
            for status in extra:
                responses.setdefault(str(status), {"description": GENERIC[status]})
            for status, response in responses.items():
                if status[:1] not in ("4", "5"):
                    continue
                content = response.get("content", {})
                declared = content.get("application/problem+json", {}).get("schema")
                if not declared or declared.get("$ref", "").endswith(("/HTTPValidationError", "/ValidationError")):
                    declared = PROBLEM_REF
                response["content"] = {"application/problem+json": {"schema": declared}}
                if response.get("description") in (None, "", "Validation Error") and int(status) in GENERIC:
                    response["description"] = GENERIC[int(status)]
    for name in ("HTTPValidationError", "ValidationError"):
        others = {k: v for k, v in components.items() if k != name}
        if f"#/components/schemas/{name}" not in json.dumps([schema.get("paths", {}), others]):
            components.pop(name, None)
    return schema


PUBLIC_LINE = "Public: no token needed"


def document_roles(schema: dict[str, Any], routes: list[BaseRoute]) -> dict[str, Any]:
    """Name on each operation of an OpenAPI document the roles its route admits (in place)."""
    order = list(Role)
    # As FastAPI builds the document: each route as included (its router's prefix and dependencies added).
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema or route.dependant is None:
            continue
        item = schema.get("paths", {}).get(route.path_format, {})
        roles = roles_of(route.dependant)
        names = [] if roles is None else [r.value for r in sorted(roles, key=order.index)]
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            operation["x-roles"] = names
            line = f"Roles: {', '.join(names)}" if names else PUBLIC_LINE
            if roles is None:
                operation["security"] = []
            description = operation.get("description")
            operation["description"] = f"{description}\n\n{line}" if description else line
    return schema


class RefuseNul:
    """ASGI middleware: a query or path parameter holding NUL answers 422 naming the parameter."""

    def __init__(self, app: Any, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.app_openapi = openapi  # the documented path templates name the parameters
        self.templates: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            errors = self._errors(scope)
            if errors:
                detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
                response = problem_response(
                    422, "Validation failed", detail, type_slug="validation-failed", instance=None, errors=errors
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _errors(self, scope: Any) -> list[FieldError]:
        errors: list[FieldError] = []
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="replace"):
                if "\x00" in name + value:
                    errors.append(FieldError(name.replace("\x00", "\\u0000"), _REASON, location="query"))
        if "\x00" in scope.get("path", ""):
            errors += self._path_errors(scope)
        return errors

    def _path_errors(self, scope: Any) -> list[FieldError]:
        if self.templates is None:
            self.templates = [compile_path(path)[0] for path in self.app_openapi().get("paths", {})]
        for template in self.templates:
            match = template.match(scope["path"])
            if match:
                names = [name for name, value in match.groupdict().items() if "\x00" in value]
                return [FieldError(name, _REASON, location="path") for name in names]
        return [FieldError("path", _REASON, location="path")]


_REASON = "must not contain the NUL character (\\u0000)"


def install_contract(app: FastAPI) -> None:
    """Refuse NUL in parameters, document every error as problem+json and every operation's roles."""
    app.add_middleware(RefuseNul, openapi=lambda: app.openapi())
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(document_roles(build(), app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
