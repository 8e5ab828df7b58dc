"""The validation rules' queries."""

from datetime import date
from typing import Any

from sqlalchemy import Date, Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.registry import Document
from services.common.models.validation import ValidationRule, ValidationRuleVersion
from services.common.validity import in_force

Row = tuple[ValidationRule, ValidationRuleVersion]


def _joined() -> Select[ValidationRule, ValidationRuleVersion]:
    return select(ValidationRule, ValidationRuleVersion).join(
        ValidationRuleVersion, ValidationRuleVersion.rule_id == ValidationRule.id
    )


async def latest(session: AsyncSession, rule_id: int) -> Row | None:
    query = _joined().where(ValidationRule.id == rule_id, ValidationRuleVersion.valid_to.is_(None))
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def shown(session: AsyncSession, rule_id: int, as_of: date) -> Row | None:
    """The version in force on `as_of`, else the latest (a rule not yet, or no longer, in force)."""
    row = (
        await session.execute(_joined().where(ValidationRule.id == rule_id, in_force(ValidationRuleVersion, as_of)))
    ).first()
    return (row[0], row[1]) if row is not None else await latest(session, rule_id)


async def latest_numbers(session: AsyncSession, rule_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(ValidationRuleVersion.rule_id, func.max(ValidationRuleVersion.version))
        .where(ValidationRuleVersion.rule_id.in_(rule_ids))
        .group_by(ValidationRuleVersion.rule_id)
    )
    return {rule_id: number for rule_id, number in rows.all()}


def _in_force(as_of: Any, *, document_id: Any, only_enabled: bool) -> Select[ValidationRule, ValidationRuleVersion]:
    query = _joined().where(in_force(ValidationRuleVersion, as_of))
    if document_id is not None:
        query = query.where(
            or_(ValidationRuleVersion.document_id.is_(None), ValidationRuleVersion.document_id == document_id)
        )
    if only_enabled:
        query = query.where(ValidationRuleVersion.enabled)
    return query


async def in_force_on(
    session: AsyncSession,
    as_of: date,
    *,
    document_id: int | None,
    only_enabled: bool,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Row], int]:
    """A page of the versions in force on `as_of` (a document's own and every document's rules when `document_id` is
    given), by code, and how many there are in all."""
    query = _in_force(as_of, document_id=document_id, only_enabled=only_enabled)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    query = query.order_by(ValidationRule.code).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).all()
    return [(r[0], r[1]) for r in rows], total


# Every submission reads the rules in force: the two statements are built once, the day and document bound.
_ALL_IN_FORCE = {
    only_enabled: _in_force(
        bindparam("as_of", type_=Date()), document_id=bindparam("document_id"), only_enabled=only_enabled
    ).order_by(ValidationRule.code)
    for only_enabled in (False, True)
}


async def all_in_force_on(session: AsyncSession, as_of: date, *, document_id: int, only_enabled: bool) -> list[Row]:
    """Every version in force on `as_of` for the document (its own rules and every document's), by code: one query,
    no count."""
    query = _ALL_IN_FORCE[only_enabled]
    rows = await session.execute(query, {"as_of": as_of, "document_id": document_id})
    return [(r[0], r[1]) for r in rows.all()]


async def versions(session: AsyncSession, rule_id: int) -> list[ValidationRuleVersion]:
    return list(
        (
            await session.scalars(
                select(ValidationRuleVersion)
                .where(ValidationRuleVersion.rule_id == rule_id)
                .order_by(ValidationRuleVersion.version)
            )
        ).all()
    )


async def rule_id_of(session: AsyncSession, code: str) -> int | None:
    return await session.scalar(select(ValidationRule.id).where(ValidationRule.code == code))


async def document_exists(session: AsyncSession, document_id: int) -> bool:
    return await session.scalar(select(Document.id).where(Document.id == document_id)) is not None


async def document_id_of(session: AsyncSession, slug: str) -> int | None:
    return await session.scalar(select(Document.id).where(Document.slug == slug))
