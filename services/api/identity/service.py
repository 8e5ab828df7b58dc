"""Memberships: who an issuer's subject is in the system. Versioned: a change closes the current version and writes
the next; a revocation is a version that grants nothing, in force at once. Every change is audited."""

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.identity.schemas import MembershipCreate, MembershipOut, MembershipVersionOut, MembershipWrite
from services.common.audit import record_change
from services.common.auth import Principal, Role
from services.common.concurrency import check_if_match, etag, stale
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.identity import Membership, MembershipVersion
from services.common.models.reference import Organisation
from services.common.pagination import Page
from services.common.settings import get_settings

RESOURCE = "membership"
# Roles that act for one organisation.
NEEDS_ORGANISATION = (Role.executor, Role.akimat, Role.provider, Role.fund)


def membership_etag(out: MembershipOut) -> str:
    return etag(f"membership-{out.id}", out.version)


def _out(m: Membership, v: MembershipVersion) -> MembershipOut:
    return MembershipOut(
        id=m.id,
        issuer=m.issuer,
        subject=m.subject,
        version=v.version,
        active=v.active,
        roles=[Role(r) for r in v.roles],
        organisation_id=v.organisation_id,
        source_system=v.source_system,
        expert_code=v.expert_code,
        display_name=v.display_name,
        upload_max_bytes=v.upload_max_bytes,
        uploads_per_hour=v.uploads_per_hour,
        valid_from=v.valid_from,
        changed_by=v.changed_by,
        change_reason=v.change_reason,
    )


async def _check(session: AsyncSession, body: MembershipWrite) -> None:
    errors: list[FieldError] = []
    roles = set(body.roles)
    if len(roles) != len(body.roles):
        errors.append(FieldError("roles", "a role is listed twice"))
    organisation: Organisation | None = None
    if body.organisation_id is not None:
        organisation = await session.get(Organisation, body.organisation_id)
        if organisation is None:
            errors.append(FieldError("organisation_id", f"no organisation {body.organisation_id}"))
    needing = sorted(r.value for r in roles.intersection(NEEDS_ORGANISATION))
    if needing and body.organisation_id is None:
        errors.append(FieldError("organisation_id", f"required for the roles {', '.join(needing)}"))
    if Role.akimat in roles and organisation is not None and organisation.region_code is None:
        errors.append(FieldError("organisation_id", "an akimat's organisation must have a region"))
    if Role.integration in roles and body.source_system is None:
        errors.append(FieldError("source_system", "required for an integration account"))
    ceiling = get_settings().bulk_max_upload_bytes
    if body.upload_max_bytes is not None and body.upload_max_bytes > ceiling:
        errors.append(FieldError("upload_max_bytes", f"above BULK_MAX_UPLOAD_BYTES ({ceiling})"))
    if Role.expert in roles and body.expert_code is None:
        errors.append(FieldError("expert_code", "required for an expert"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


def _version(m_id: int, number: int, body: MembershipWrite, who: Principal, *, active: bool) -> MembershipVersion:
    return MembershipVersion(
        membership_id=m_id,
        version=number,
        active=active,
        roles=sorted({r.value for r in body.roles}) if active else [],
        organisation_id=body.organisation_id if active else None,
        source_system=body.source_system if active else None,
        expert_code=body.expert_code if active else None,
        display_name=body.display_name,
        upload_max_bytes=body.upload_max_bytes if active else None,
        uploads_per_hour=body.uploads_per_hour if active else None,
        changed_by=who.label,
        change_reason=body.reason,
    )


async def _current(session: AsyncSession, membership_id: int) -> tuple[Membership, MembershipVersion]:
    row = (
        await session.execute(
            select(Membership, MembershipVersion)
            .join(MembershipVersion, MembershipVersion.membership_id == Membership.id)
            .where(Membership.id == membership_id, MembershipVersion.valid_to.is_(None))
        )
    ).first()
    if row is None:
        raise NotFound(f"no membership {membership_id}", [FieldError("membership_id", "not found")])
    return row[0], row[1]


async def get_membership(session: AsyncSession, membership_id: int) -> MembershipOut:
    m, v = await _current(session, membership_id)
    return _out(m, v)


async def list_memberships(
    session: AsyncSession,
    page: Page,
    *,
    issuer: str | None,
    subject: str | None,
    role: Role | None,
    organisation_id: int | None,
    include_revoked: bool,
) -> tuple[list[MembershipOut], int]:
    query = select(Membership, MembershipVersion).join(
        MembershipVersion, (MembershipVersion.membership_id == Membership.id) & MembershipVersion.valid_to.is_(None)
    )
    if issuer is not None:
        query = query.where(Membership.issuer == issuer)
    if subject is not None:
        query = query.where(Membership.subject == subject)
    if role is not None:
        query = query.where(MembershipVersion.roles.contains([role.value]))
    if organisation_id is not None:
        query = query.where(MembershipVersion.organisation_id == organisation_id)
    if not include_revoked:
        query = query.where(MembershipVersion.active)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await session.execute(query.order_by(Membership.id).limit(page.limit).offset(page.offset))).all()
    return [_out(m, v) for m, v in rows], total


async def history(session: AsyncSession, membership_id: int) -> list[MembershipVersionOut]:
    m, _ = await _current(session, membership_id)
    versions = (
        await session.scalars(
            select(MembershipVersion)
            .where(MembershipVersion.membership_id == membership_id)
            .order_by(MembershipVersion.version)
        )
    ).all()
    return [MembershipVersionOut(**_out(m, v).model_dump(), valid_to=v.valid_to) for v in versions]


async def create_membership(session: AsyncSession, who: Principal, body: MembershipCreate) -> MembershipOut:
    await _check(session, body)
    taken = await session.scalar(
        select(Membership.id).where(Membership.issuer == body.issuer, Membership.subject == body.subject)
    )
    if taken is not None:
        raise Conflict(
            f"{body.subject}@{body.issuer} has a membership already (id {taken}): change it instead",
            [FieldError("subject", "has a membership already")],
            membership_id=taken,
        )
    m = Membership(issuer=body.issuer, subject=body.subject)
    session.add(m)
    await session.flush()
    v = _version(m.id, 1, body, who, active=True)
    session.add(v)
    await session.flush()
    await session.refresh(v)
    out = _out(m, v)
    await record_change(session, who, "create", RESOURCE, m.id, None, _audited(out))
    return out


async def _next_version(
    session: AsyncSession, who: Principal, membership_id: int, if_match: str | None, body: MembershipWrite, active: bool
) -> tuple[MembershipOut, MembershipOut]:
    m, current = await _current(session, membership_id)
    before = _out(m, current)
    check_if_match(if_match, membership_etag(before))
    if membership_id == who.membership_id and (not active or Role.ministry_admin not in body.roles):
        raise Conflict(
            "an administrator cannot revoke their own membership nor drop their own administrator role",
            [FieldError("roles", "would lock the administrator out")],
        )
    # Guarded by the database: of two writers holding the same ETag, one closes the version and the other gets 412.
    closed = await session.execute(
        update(MembershipVersion)
        .where(MembershipVersion.id == current.id, MembershipVersion.valid_to.is_(None))
        .values(valid_to=func.now())
        .returning(MembershipVersion.id)
    )
    if closed.first() is None:
        stale(None)
    v = _version(m.id, current.version + 1, body, who, active=active)
    session.add(v)
    await session.flush()
    await session.refresh(v)
    return before, _out(m, v)


async def update_membership(
    session: AsyncSession, who: Principal, membership_id: int, if_match: str | None, body: MembershipWrite
) -> MembershipOut:
    await _check(session, body)
    before, after = await _next_version(session, who, membership_id, if_match, body, active=True)
    await record_change(session, who, "update", RESOURCE, membership_id, _audited(before), _audited(after))
    return after


async def revoke_membership(
    session: AsyncSession, who: Principal, membership_id: int, if_match: str | None, reason: str | None
) -> MembershipOut:
    _, current = await _current(session, membership_id)
    if not current.active:
        raise Conflict(f"membership {membership_id} is revoked already", [FieldError("membership_id", "revoked")])
    keep = MembershipWrite(roles=[Role(r) for r in current.roles], display_name=current.display_name, reason=reason)
    before, after = await _next_version(session, who, membership_id, if_match, keep, active=False)
    await record_change(session, who, "revoke", RESOURCE, membership_id, _audited(before), _audited(after))
    return after


def _audited(out: MembershipOut) -> dict[str, Any]:
    return out.model_dump(mode="json", exclude={"valid_from", "changed_by"})
