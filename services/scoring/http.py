"""What the scoring service's routers share: path and header parameters, error responses, the 304 answer, and who
may call each route."""

from typing import Annotated, Any

from fastapi import Header, Path, Query, Request, Response

from services.common.auth import Principal, Role, allow
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


# Who may call what (the README's "Access" says why). Each route names one of these; a route with none is public.
_READERS = (Role.commission, Role.commission_secretary, Role.ministry_admin, Role.ministry_reviewer, Role.auditor)
# Reads: the commission and its secretary, the ministry, the auditor.
Reader = Annotated[Principal, allow(*_READERS)]
# Criteria versions and their rules are also read by the experts, who score by them.
CriteriaReader = Annotated[Principal, allow(*_READERS, Role.expert)]
# Criteria versions and decision rules: the ministry administrator.
MinistryAdmin = Annotated[Principal, allow(Role.ministry_admin)]
# Technologies: the commission secretary (and the ministry administrator).
TechnologyWriter = Annotated[Principal, allow(Role.commission_secretary, Role.ministry_admin)]
# Applications, expert assignment and recusal: the commission secretary.
Secretary = Annotated[Principal, allow(Role.commission_secretary)]
# An expert's own score (on the applications they are assigned to and not recused from).
Expert = Annotated[Principal, allow(Role.expert)]
# Panel scores, decisions, moves off the list: the commission.
Commission = Annotated[Principal, allow(Role.commission)]
# A saved what-if scenario: whoever may run one, but the auditor (who writes nothing).
ScenarioWriter = Annotated[Principal, allow(*(r for r in _READERS if r != Role.auditor))]
# Batch scoring (streamed or as a job): the commission secretary and partner systems' integration accounts.
BatchSender = Annotated[Principal, allow(Role.commission_secretary, Role.integration)]
# A batch job's progress and results: its sender's kind and the auditor (an integration account: its own jobs).
BatchReader = Annotated[Principal, allow(Role.commission_secretary, Role.integration, Role.auditor)]
