"""ETags of the scoring service's resources and the If-Match check of its updates."""

from __future__ import annotations

from services.common.errors import FieldError, PreconditionFailed, PreconditionRequired


def etag(kind: str, ident: int, row_version: int) -> str:
    return f'"{kind}-{ident}-{row_version}"'


def check_if_match(if_match: str | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "this update needs an If-Match header with the resource's ETag", [FieldError("If-Match", "missing")]
        )
    if if_match.strip() not in (current, "*"):
        raise PreconditionFailed(
            f"the resource changed: its ETag is {current}",
            [FieldError("If-Match", f"stale; current ETag is {current}")],
        )
