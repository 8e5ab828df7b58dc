"""What the scoring service's routers share: path and header parameters, error responses, the 304 answer."""

from typing import Annotated, Any

from fastapi import Header, Path, Query, Request, Response

from services.common.bounds import INT32_MAX as MAX_ID
from services.common.concurrency import not_modified

IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag of the resource being changed.")]

# Ids are Postgres `integer`s (up to MAX_ID): a larger number is refused (422) rather than failing in the driver.
VersionId = Annotated[int, Path(ge=1, le=MAX_ID)]
TechnologyId = Annotated[int, Path(ge=1, le=MAX_ID)]
ApplicationId = Annotated[int, Path(ge=1, le=MAX_ID)]
ScenarioId = Annotated[int, Path(ge=1, le=MAX_ID)]
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
NDJSON = "application/x-ndjson"
PROBLEM = {"model": dict[str, Any], "description": "Problem details (application/problem+json)"}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 409: PROBLEM, 422: PROBLEM}
UPDATE_ERRORS: dict[int | str, dict[str, Any]] = {**ERRORS, 412: PROBLEM, 428: PROBLEM}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    304: {"description": "Not Modified: If-None-Match names the current ETag (or is `*`); empty body, same ETag"},
}


def not_modified_response(request: Request, etag: str) -> Response | None:
    """The 304 answer when the client already holds this ETag, else None (build the resource).

    Checked before the body is built, so a revalidation costs one lookup."""
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return None
