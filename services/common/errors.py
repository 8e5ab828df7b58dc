"""Domain errors and their rendering as RFC 9457 problem details (application/problem+json)."""

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
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


class Unauthorized(DomainError):
    """No token, or one that is not valid (expired, wrongly signed, another audience, an unknown issuer)."""

    status_code = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(DomainError):
    """A valid token whose roles do not allow the action."""

    status_code = 403
    title = "Forbidden"
    type_slug = "forbidden"


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
        response = problem_response(
            exc.status_code,
            exc.title,
            exc.detail,
            type_slug=exc.type_slug,
            instance=request.url.path,
            errors=exc.errors,
            **exc.extra,
        )
        response.headers.update(getattr(exc, "headers", None) or {})  # e.g. a 429's Retry-After
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(
            422, "Validation failed", detail, type_slug="validation-failed", instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, BodyTooLarge):
            return too_large_response(exc.limit, exc.setting, instance=request.url.path)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(
            exc.status_code, title, str(exc.detail), type_slug=f"http-{exc.status_code}", instance=request.url.path
        )


# ------------------------------------------------------------------------------------------------ faults

# SQLSTATE classes and codes: a conflict with another transaction or with the data (answered 409) and the database
# gone or refusing connections (answered 503).
_CONFLICT_CLASSES = ("23", "40")  # integrity constraint violation; serialization failure, deadlock
_UNAVAILABLE_CLASSES = ("08",)  # connection exception
_UNAVAILABLE_CODES = ("57P01", "57P02", "57P03", "53300")  # shut down, crashed, cannot connect now, too many clients
_DRIVERS = ("asyncpg", "sqlalchemy")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (SQLAlchemy's `orig`, causes, contexts) and a group's members."""
    out: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if any(e is seen for seen in out):
            continue
        out.append(e)
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        for nxt in (getattr(e, "orig", None), e.__cause__, e.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def _raised_by_driver(exc: BaseException) -> bool:
    """Whether the database driver (or SQLAlchemy's pool) raised it: an OSError from there is the database gone."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(_DRIVERS):
            return True
        tb = tb.tb_next
    return False


def database_fault(exc: BaseException) -> int | None:
    """409 when the exception is a database conflict (a unique, foreign-key or check violation, a serialization
    failure, a deadlock), 503 when the database is gone or refuses connections, None when it is something else."""
    import asyncpg
    import sqlalchemy.exc

    for e in _chain(exc):
        sqlstate = getattr(e, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate.startswith(_CONFLICT_CLASSES):
                return 409
            if sqlstate.startswith(_UNAVAILABLE_CLASSES) or sqlstate in _UNAVAILABLE_CODES:
                return 503
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated:
            return 503
        if isinstance(e, sqlalchemy.exc.TimeoutError):  # no pooled connection came free in time
            return 503
        if isinstance(e, asyncpg.InterfaceError) and "closed" in str(e):
            return 503
        if isinstance(e, OSError) and (isinstance(e, ConnectionError) or _raised_by_driver(e)):
            return 503
    return None


def fault_response(exc: BaseException, path: str | None = None) -> Response:
    """The answer to an exception no handler took: 400 when the client went away in the middle of its body (a
    streamed upload cut off: its transaction rolled back, nothing stored; the client's doing, not a fault), 409 or
    503 for a database conflict or outage, else 500. A 500 closes its connection (`Connection: close`): the process
    may be in a state no one planned for."""
    if any(isinstance(e, ClientDisconnect) for e in _chain(exc)):
        log.info("client went away in the middle of its request body on %s", path)
        return problem_response(
            400,
            "Upload cut off",
            "the client went away before the whole body came; nothing was stored",
            type_slug="upload-cut-off",
            instance=path,
            errors=[{"field": "body", "reason": "cut off"}],
        )
    status = database_fault(exc)
    if status == 409:
        log.info("database conflict on %s: %s", path, exc)
        return problem_response(
            409,
            "Conflict",
            "the write conflicts with another one or with the stored data; nothing was stored: read again and retry",
            type_slug="conflict",
            instance=path,
        )
    if status == 503:
        log.warning("database unavailable on %s: %s", path, exc)
        response = problem_response(
            503,
            "Service unavailable",
            "the database does not answer; nothing was stored: retry later",
            type_slug="database-unavailable",
            instance=path,
        )
        response.headers["Retry-After"] = "5"
        return response
    log.error("unhandled error on %s", path, exc_info=exc)
    response = problem_response(
        500, "Internal error", "an unexpected error occurred; it has been logged", type_slug="internal", instance=path
    )
    response.headers["Connection"] = "close"
    return response


class Faults:
    """ASGI middleware: an exception that no handler took (one raised by a commit included, as the session
    dependency's exit runs outside the route's handlers) is answered as problem+json by `fault_response`. Once a
    response has started nothing else can be sent: the exception goes on and the server drops the connection."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await fault_response(exc, scope.get("path"))(scope, receive, send)


# ------------------------------------------------------------------------------------------------ body sizes


class BodyTooLarge(StarletteHTTPException):
    """A request body over its cap. An HTTPException, so that FastAPI's body reading lets it through (it turns any
    other exception raised while reading into a 400)."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit
        self.setting = setting


def too_large_response(
    limit: int, setting: str, *, instance: str | None = None, what: str = "request body"
) -> Response:
    return problem_response(
        413,
        "Payload too large",
        f"the {what} is larger than {limit} bytes (the limit set by {setting.upper()}); nothing was stored",
        type_slug="payload-too-large",
        instance=instance,
        errors=[FieldError("body", f"larger than {limit} bytes", limit_bytes=limit)],
        limit_bytes=limit,
    )


class BodySizeLimit:
    """ASGI middleware: a cap on every request body, chunked ones included, answered 413 problem+json.

    A declared Content-Length over the cap is refused before the handler runs; a body that grows over it while it is
    read raises BodyTooLarge from `receive`. Paths under `bulk_prefixes` (streamed bulk uploads) have the larger cap
    `bulk_limit`; their lines are capped where they are split (services/api/bulk/stream.py). A path under one of
    `own_limits`' prefixes has that cap instead (attachments: ATTACHMENT_MAX_BYTES).
    """

    def __init__(
        self,
        app: Any,
        limit: int,
        bulk_limit: int,
        bulk_prefixes: tuple[str, ...] = (),
        own_limits: tuple[tuple[str, int, str], ...] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.bulk_limit = bulk_limit
        self.bulk = bulk_prefixes
        self.own = own_limits  # (path prefix, its cap, the setting that sets it): routes with a cap of their own

    def _limit(self, path: str) -> tuple[int, str]:
        for prefix, limit, setting in self.own:
            if path.startswith(prefix):
                return limit, setting
        if self.bulk and path.startswith(self.bulk):
            return self.bulk_limit, "bulk_max_upload_bytes"
        return self.limit, "max_body_bytes"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope["path"])
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await too_large_response(limit, setting, instance=scope["path"])(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        await self.app(scope, limited_receive, send)
