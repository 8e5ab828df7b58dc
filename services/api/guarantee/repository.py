"""Queries of the Guarantee Programme data."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.guarantee import (
    AccessNorm,
    CeilingVolume,
    ClinicalProfile,
    PaymentMethod,
    ReferenceStatistic,
)
from services.common.models.reference import Region
from services.common.models.registry import DataQualityIssue, Document, DocumentVersion
from services.common.validity import in_force

SLUG = "guarantee-programme-2026-2028"


async def list_regions(session: AsyncSession) -> Sequence[Region]:
    return (await session.execute(select(Region).order_by(Region.position, Region.kato_code))).scalars().all()


async def get_region(session: AsyncSession, code: str) -> Region | None:
    return await session.get(Region, code)


async def list_profiles(session: AsyncSession) -> Sequence[ClinicalProfile]:
    return (await session.execute(select(ClinicalProfile).order_by(ClinicalProfile.position))).scalars().all()


async def get_profile(session: AsyncSession, code: str) -> ClinicalProfile | None:
    return await session.get(ClinicalProfile, code)


async def current_version_id(session: AsyncSession, as_of: date) -> int | None:
    return (
        await session.execute(
            select(DocumentVersion.id)
            .join(Document, Document.id == DocumentVersion.document_id)
            .where(
                Document.slug == SLUG,
                in_force(DocumentVersion, as_of),
            )
            .order_by(DocumentVersion.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def ceiling_volumes(
    session: AsyncSession,
    version_id: int,
    region: str | None,
    profile: str | None,
    include_totals: bool,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    conds: list[Any] = [CeilingVolume.document_version_id == version_id]
    if region:
        conds.append(CeilingVolume.region_code == region)
    if profile == "all_profiles":
        conds.append(CeilingVolume.is_region_total.is_(True))
    elif profile:
        conds.append(CeilingVolume.profile_code == profile)
    if not include_totals and profile != "all_profiles":
        conds.append(CeilingVolume.is_region_total.is_(False))
    where = and_(*conds)
    total = (await session.execute(select(func.count()).select_from(CeilingVolume).where(where))).scalar_one()
    rows = (
        await session.execute(
            select(
                CeilingVolume, Region.name_kk.label("region_name_kk"), ClinicalProfile.name_kk.label("profile_name_kk")
            )
            .join(Region, Region.kato_code == CeilingVolume.region_code)
            .outerjoin(ClinicalProfile, ClinicalProfile.code == CeilingVolume.profile_code)
            .where(where)
            .order_by(CeilingVolume.position)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [r for r in rows], total


async def data_quality(
    session: AsyncSession, rule: str | None, region: str | None, limit: int, offset: int
) -> tuple[Sequence[DataQualityIssue], int]:
    conds: list[Any] = [DataQualityIssue.document_slug == SLUG]
    if rule:
        conds.append(DataQualityIssue.rule == rule)
    if region:
        conds.append(DataQualityIssue.location.like(f"annex-1/{region}%"))
    where = and_(*conds)
    total = (await session.execute(select(func.count()).select_from(DataQualityIssue).where(where))).scalar_one()
    items = (
        (
            await session.execute(
                select(DataQualityIssue).where(where).order_by(DataQualityIssue.id).limit(limit).offset(offset)
            )
        )
        .scalars()
        .all()
    )
    return items, total


async def payment_methods(session: AsyncSession) -> Sequence[PaymentMethod]:
    return (
        (
            await session.execute(
                select(PaymentMethod)
                .join(Document, Document.id == PaymentMethod.document_id)
                .where(Document.slug == SLUG)
                .order_by(PaymentMethod.row_position, PaymentMethod.position)
            )
        )
        .scalars()
        .all()
    )


async def norms(session: AsyncSession, as_of: date) -> Sequence[AccessNorm]:
    return (
        (
            await session.execute(
                select(AccessNorm).where(in_force(AccessNorm, as_of)).order_by(AccessNorm.position, AccessNorm.code)
            )
        )
        .scalars()
        .all()
    )


async def norm_versions(session: AsyncSession, code: str) -> Sequence[AccessNorm]:
    return (
        (await session.execute(select(AccessNorm).where(AccessNorm.code == code).order_by(AccessNorm.version)))
        .scalars()
        .all()
    )


async def open_norm_version(session: AsyncSession, code: str) -> AccessNorm | None:
    """The latest version of a norm (the one without an end), read without a lock: a write closes it with a
    guarded UPDATE (services.common.concurrency.close_latest_version)."""
    return (
        await session.execute(select(AccessNorm).where(AccessNorm.code == code, AccessNorm.valid_to.is_(None)))
    ).scalar_one_or_none()


async def upsert_statistics(
    session: AsyncSession, rows: list[dict[str, Any]], source: str, synthetic: bool
) -> tuple[int, int]:
    """Write each statistic as a new version unless the current one already has the same value."""
    if not rows:
        return 0, 0
    await session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS stat_in (region_code text, year int, code text, value numeric) "
            "ON COMMIT DROP"
        )
    )
    await session.execute(text("TRUNCATE stat_in"))
    await session.execute(text("INSERT INTO stat_in VALUES (:region_code, :year, :code, :value)"), rows)
    changed = await session.execute(
        text("""
        WITH changed AS (
          SELECT i.* FROM stat_in i
          LEFT JOIN reference_statistic c ON c.region_code = i.region_code AND c.year = i.year
               AND c.code = i.code AND c.is_current
          WHERE c.id IS NULL OR c.value <> i.value
        ), closed AS (
          UPDATE reference_statistic c SET is_current = false FROM changed i
          WHERE c.region_code = i.region_code AND c.year = i.year AND c.code = i.code AND c.is_current
          RETURNING c.region_code, c.year, c.code, c.version
        )
        SELECT ch.region_code, ch.year, ch.code, ch.value, COALESCE(cl.version, 0) + 1 AS version
        FROM changed ch LEFT JOIN closed cl USING (region_code, year, code)""")
    )
    new = [dict(r._mapping) for r in changed]
    if new:
        await session.flush()
        await session.execute(
            insert(ReferenceStatistic), [dict(r, source=source, is_synthetic=synthetic, is_current=True) for r in new]
        )
    await session.execute(text("DROP TABLE IF EXISTS stat_in"))
    return len(new), len(rows) - len(new)


async def statistics(
    session: AsyncSession, region: str | None, year: int | None, code: str | None, limit: int, offset: int
) -> tuple[Sequence[ReferenceStatistic], int]:
    conds: list[Any] = [ReferenceStatistic.is_current.is_(True)]
    if region:
        conds.append(ReferenceStatistic.region_code == region)
    if year:
        conds.append(ReferenceStatistic.year == year)
    if code:
        conds.append(ReferenceStatistic.code == code)
    where = and_(*conds)
    total = (await session.execute(select(func.count()).select_from(ReferenceStatistic).where(where))).scalar_one()
    items = (
        (
            await session.execute(
                select(ReferenceStatistic)
                .where(where)
                .order_by(ReferenceStatistic.region_code, ReferenceStatistic.year, ReferenceStatistic.code)
                .limit(limit)
                .offset(offset)
            )
        )
        .scalars()
        .all()
    )
    return items, total


async def current_statistics(session: AsyncSession, keys: list[tuple[str, int, str]]) -> Sequence[ReferenceStatistic]:
    """The current rows of the given (region, year, code) keys."""
    if not keys:
        return []
    key = tuple_(ReferenceStatistic.region_code, ReferenceStatistic.year, ReferenceStatistic.code)
    q = select(ReferenceStatistic).where(ReferenceStatistic.is_current.is_(True), key.in_(keys))
    return (await session.execute(q)).scalars().all()


async def statistics_for(session: AsyncSession, year: int, region: str | None) -> Sequence[ReferenceStatistic]:
    q = select(ReferenceStatistic).where(ReferenceStatistic.is_current.is_(True), ReferenceStatistic.year == year)
    if region:
        q = q.where(ReferenceStatistic.region_code == region)
    return (await session.execute(q)).scalars().all()
