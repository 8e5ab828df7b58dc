"""Domain errors and their rendering as RFC 9457 problem details (application/problem+json)."""

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(dict[str, Any]):
    """One invalid field: {"field": "financing[0].amount", "reason": "…"}."""

    def __init__(self, field: str, reason: str, **extra: Any) -> None:
        super().__init__(field=field, reason=reason, **extra)


class DomainError(Exception):
    """An error a service raises; carries its HTTP status. Rendered as problem+json."""

    status_code = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, errors: Sequence[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors or [])
        self.extra = extra


class NotFound(DomainError):
    status_code = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"
    type_slug = "conflict"


class ValidationFailed(DomainError):
    status_code = 422
    title = "Validation failed"
    type_slug = "validation-failed"


class PreconditionFailed(DomainError):
    status_code = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


class PreconditionRequired(DomainError):
    status_code = 428
    title = "Precondition required"
    type_slug = "precondition-required"


class PayloadTooLarge(DomainError):
    status_code = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://errors.kz-health-plans.example/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    body.update(extra)
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=PROBLEM_JSON)


def _field_name(loc: Sequence[Any]) -> str:
    """('body', 'financing', 0, 'amount') -> 'financing[0].amount'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts.pop(0)
        if not parts:
            return str(where)
        if where != "body":
            parts[0] = f"{parts[0]}"
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = err.get("loc", ())
        if err.get("type") == "json_invalid":
            errors.append(FieldError("body", f"malformed JSON: {err.get('ctx', {}).get('error', 'invalid')}"))
            continue
        errors.append(FieldError(_field_name(loc), str(err.get("msg")), location=str(loc[0]) if loc else None))
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(
            exc.status_code,
            exc.title,
            exc.detail,
            type_slug=exc.type_slug,
            instance=request.url.path,
            errors=exc.errors,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(
            422, "Validation failed", detail, type_slug="validation-failed", instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(
            exc.status_code, title, str(exc.detail), type_slug=f"http-{exc.status_code}", instance=request.url.path
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            500, "Internal error", "an unexpected error occurred; it has been logged", type_slug="internal"
        )


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413 before the handler runs.

    Paths under `exempt_prefixes` (streamed bulk uploads) are not limited here.
    """

    def __init__(self, app: Any, limit: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send, int(value))
                return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLarge(
                        f"request body is larger than {self.limit} bytes",
                        [FieldError("body", f"larger than {self.limit} bytes")],
                    )
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Any, size: int) -> None:
        response = problem_response(
            413,
            "Payload too large",
            f"request body of {size} bytes is larger than {self.limit} bytes",
            type_slug="payload-too-large",
            errors=[FieldError("body", f"larger than {self.limit} bytes")],
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(response.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
