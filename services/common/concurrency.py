"""ETags and conditional requests, the same for every service.

Writes require `If-Match` with the current ETag: 428 without it, 412 when it is stale (the resource
changed since it was read). Reads answer 304 to an `If-None-Match` that names the current ETag.
"""

from starlette.requests import Request

from services.common.errors import FieldError, PreconditionFailed, PreconditionRequired


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def check_if_match(if_match: str | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "this write needs an If-Match header with the resource's current ETag", [FieldError("If-Match", "missing")]
        )
    tags = _tags(if_match)
    if "*" not in tags and current not in tags:
        raise PreconditionFailed(
            "the resource has changed since it was read; read it again and retry",
            [FieldError("If-Match", f"stale: the current ETag is {current}")],
            current_etag=current,
        )


def not_modified(request: Request, etag: str) -> bool:
    """True when the client's If-None-Match already names this ETag, or is `*` (the resource exists)."""
    header = request.headers.get("if-none-match", "")
    return header.strip() == "*" or etag in _tags(header)
