"""Memberships (the ministry administrator's) and the audit history (the auditor's and the administrator's)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from sqlalchemy import func, select

from services.api.identity import service
from services.api.identity.schemas import (
    AuditEntryOut,
    Issuer,
    MembershipCreate,
    MembershipOut,
    MembershipVersionOut,
    MembershipWrite,
    Subject,
)
from services.common.auth import Principal, Role, allow
from services.common.bounds import Int32Id, Text
from services.common.concurrency import not_modified, tagged
from services.common.db import SessionDep
from services.common.models.identity import AuditLog
from services.common.pagination import Paginated, Pagination

router = APIRouter(prefix="/api/v1")

Admin = Annotated[Principal, allow(Role.ministry_admin)]
Reader = Annotated[Principal, allow(Role.ministry_admin, Role.auditor)]
MembershipId = Annotated[Int32Id, Path(description="The membership's id.")]
IfMatch = Annotated[str | None, Header(description="The membership's current ETag (required).")]
PROBLEM: dict[str, Any] = {"description": "Problem details", "content": {"application/problem+json": {}}}
READ_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 428: PROBLEM}


def _answer(out: MembershipOut, status_code: int = 200, **headers: str) -> Response:
    return tagged(out, service.membership_etag(out), status_code, **headers)


@router.get(
    "/memberships",
    tags=["memberships"],
    operation_id="list_memberships",
    response_model=Paginated[MembershipOut],
    summary="Memberships: who each trusted issuer's subject is here (current versions)",
)
async def list_memberships(
    who: Admin,
    session: SessionDep,
    page: Pagination,
    issuer: Annotated[Issuer | None, Query()] = None,
    subject: Annotated[Subject | None, Query()] = None,
    role: Role | None = None,
    organisation_id: Int32Id | None = None,
    include_revoked: bool = False,
) -> Paginated[MembershipOut]:
    items, total = await service.list_memberships(
        session,
        page,
        issuer=issuer,
        subject=subject,
        role=role,
        organisation_id=organisation_id,
        include_revoked=include_revoked,
    )
    return Paginated(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/memberships",
    tags=["memberships"],
    operation_id="create_membership",
    status_code=201,
    response_model=MembershipOut,
    responses={409: PROBLEM},
    summary="Grant a membership to an issuer's subject (a person or a service account)",
)
async def create_membership(who: Admin, session: SessionDep, body: MembershipCreate) -> Response:
    out = await service.create_membership(session, who, body)
    return _answer(out, 201, Location=f"/api/v1/memberships/{out.id}")


@router.get(
    "/memberships/{membership_id}",
    tags=["memberships"],
    operation_id="get_membership",
    response_model=MembershipOut,
    responses={**READ_ERRORS, 304: {"description": "Not modified"}},
    summary="A membership's current version",
)
async def get_membership(who: Admin, session: SessionDep, request: Request, membership_id: MembershipId) -> Response:
    out = await service.get_membership(session, membership_id)
    tag = service.membership_etag(out)
    if not_modified(request, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _answer(out)


@router.put(
    "/memberships/{membership_id}",
    tags=["memberships"],
    operation_id="update_membership",
    response_model=MembershipOut,
    responses=WRITE_ERRORS,
    summary="Change a membership's roles or organisation (a new version, in force at once)",
)
async def update_membership(
    who: Admin, session: SessionDep, membership_id: MembershipId, body: MembershipWrite, if_match: IfMatch = None
) -> Response:
    return _answer(await service.update_membership(session, who, membership_id, if_match, body))


@router.delete(
    "/memberships/{membership_id}",
    tags=["memberships"],
    operation_id="revoke_membership",
    response_model=MembershipOut,
    responses=WRITE_ERRORS,
    summary="Revoke a membership: its tokens are refused from the next request on (the history stays)",
)
async def revoke_membership(
    who: Admin,
    session: SessionDep,
    membership_id: MembershipId,
    if_match: IfMatch = None,
    reason: Annotated[Text | None, Query(description="Why (recorded in the history).")] = None,
) -> Response:
    return _answer(await service.revoke_membership(session, who, membership_id, if_match, reason))


@router.get(
    "/memberships/{membership_id}/history",
    tags=["memberships"],
    operation_id="membership_history",
    response_model=list[MembershipVersionOut],
    responses=READ_ERRORS,
    summary="Every version of a membership, oldest first",
)
async def membership_history(
    who: Admin, session: SessionDep, membership_id: MembershipId
) -> list[MembershipVersionOut]:
    return await service.history(session, membership_id)


@router.get(
    "/audit",
    tags=["audit"],
    operation_id="audit_history",
    response_model=Paginated[AuditEntryOut],
    summary="The audit log: who changed what, when, before and after (newest first)",
)
async def audit_history(
    who: Reader,
    session: SessionDep,
    page: Pagination,
    resource: Annotated[
        str | None, Query(max_length=120, description="The kind of resource.", examples=["membership"])
    ] = None,
    resource_id: Annotated[str | None, Query(max_length=255, description="Its id (with `resource`).")] = None,
    actor: Annotated[str | None, Query(max_length=800, description="Who: `subject@issuer`.")] = None,
    action: Annotated[str | None, Query(max_length=60, examples=["update"])] = None,
) -> Paginated[AuditEntryOut]:
    query = select(AuditLog)
    for column, value in (
        (AuditLog.resource, resource),
        (AuditLog.resource_id, resource_id),
        (AuditLog.actor, actor),
        (AuditLog.action, action),
    ):
        if value is not None:
            query = query.where(column == value)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await session.scalars(query.order_by(AuditLog.id.desc()).limit(page.limit).offset(page.offset))).all()
    return Paginated(
        items=[AuditEntryOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )
