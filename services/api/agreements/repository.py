"""Queries of the agreements domain: forms, agreements, targets, the akimats' information."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.agreements import (
    Agreement,
    AgreementForm,
    AgreementFormIndicator,
    AgreementInformation,
    AgreementInformationFigure,
    AgreementTarget,
    IndicatorKind,
)
from services.common.models.guarantee import AccessNorm
from services.common.models.reference import Region
from services.common.review import ReviewState
from services.common.validity import in_force

# --- forms ------------------------------------------------------------------------------------------


async def form_versions(session: AsyncSession, code: str) -> Sequence[AgreementForm]:
    q = select(AgreementForm).where(AgreementForm.code == code).order_by(AgreementForm.version)
    return (await session.execute(q)).scalars().all()


async def forms_in_force(session: AsyncSession, on: date) -> Sequence[AgreementForm]:
    q = select(AgreementForm).where(in_force(AgreementForm, on)).order_by(AgreementForm.code)
    return (await session.execute(q)).scalars().all()


async def form_in_force(session: AsyncSession, code: str, on: date) -> AgreementForm | None:
    q = select(AgreementForm).where(AgreementForm.code == code, in_force(AgreementForm, on))
    return (await session.execute(q)).scalar_one_or_none()


async def open_form_version(session: AsyncSession, code: str) -> AgreementForm | None:
    q = select(AgreementForm).where(AgreementForm.code == code, AgreementForm.valid_to.is_(None))
    return (await session.execute(q)).scalar_one_or_none()


async def get_form(session: AsyncSession, form_id: int) -> AgreementForm | None:
    return await session.get(AgreementForm, form_id)


async def indicators_of(session: AsyncSession, form_ids: Sequence[int]) -> dict[int, list[AgreementFormIndicator]]:
    out: dict[int, list[AgreementFormIndicator]] = {i: [] for i in form_ids}
    if not form_ids:
        return out
    q = (
        select(AgreementFormIndicator)
        .where(AgreementFormIndicator.form_id.in_(form_ids))
        .order_by(AgreementFormIndicator.form_id, AgreementFormIndicator.position)
    )
    for row in (await session.execute(q)).scalars():
        out[row.form_id].append(row)
    return out


async def add_indicators(session: AsyncSession, form_id: int, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(AgreementFormIndicator), [dict(r, form_id=form_id) for r in rows])


async def norm_codes(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(AccessNorm.code).distinct())).scalars())


async def norms_on(session: AsyncSession, on: date) -> Sequence[AccessNorm]:
    q = select(AccessNorm).where(in_force(AccessNorm, on)).order_by(AccessNorm.position, AccessNorm.code)
    return (await session.execute(q)).scalars().all()


async def norms_in_force(session: AsyncSession, codes: Sequence[str], on: date) -> dict[str, AccessNorm]:
    if not codes:
        return {}
    q = select(AccessNorm).where(AccessNorm.code.in_(codes), in_force(AccessNorm, on))
    return {n.code: n for n in (await session.execute(q)).scalars()}


# --- agreements -------------------------------------------------------------------------------------


async def get_region(session: AsyncSession, code: str) -> Region | None:
    return await session.get(Region, code)


async def list_regions(session: AsyncSession) -> Sequence[Region]:
    return (await session.execute(select(Region).order_by(Region.position, Region.kato_code))).scalars().all()


async def agreement_of(session: AsyncSession, region: str, year: int) -> Agreement | None:
    q = select(Agreement).where(Agreement.region_code == region, Agreement.year == year)
    return (await session.execute(q)).scalar_one_or_none()


async def get_agreement(session: AsyncSession, agreement_id: int) -> Agreement | None:
    return await session.get(Agreement, agreement_id)


async def list_agreements(
    session: AsyncSession, region: str | None, year: int | None, limit: int, offset: int
) -> tuple[Sequence[Agreement], int]:
    conds: list[Any] = []
    if region:
        conds.append(Agreement.region_code == region)
    if year:
        conds.append(Agreement.year == year)
    total = (await session.execute(select(func.count()).select_from(Agreement).where(*conds))).scalar_one()
    q = select(Agreement).where(*conds).order_by(Agreement.year, Agreement.region_code).limit(limit).offset(offset)
    return (await session.execute(q)).scalars().all(), total


async def agreements_of_year(session: AsyncSession, year: int) -> Sequence[Agreement]:
    return (await session.execute(select(Agreement).where(Agreement.year == year))).scalars().all()


async def targets_of(session: AsyncSession, agreement_ids: Sequence[int]) -> dict[int, list[AgreementTarget]]:
    out: dict[int, list[AgreementTarget]] = {i: [] for i in agreement_ids}
    if not agreement_ids:
        return out
    q = select(AgreementTarget).where(AgreementTarget.agreement_id.in_(agreement_ids))
    for row in (await session.execute(q)).scalars():
        out[row.agreement_id].append(row)
    return out


async def replace_targets(session: AsyncSession, agreement_id: int, rows: list[dict[str, Any]]) -> None:
    await session.execute(delete(AgreementTarget).where(AgreementTarget.agreement_id == agreement_id))
    if rows:
        await session.execute(insert(AgreementTarget), [dict(r, agreement_id=agreement_id) for r in rows])


async def bump_agreement(session: AsyncSession, agreement_id: int, read_version: int, **values: Any) -> bool:
    """Write `values` and the next row version, guarded by the version read: False when another write came first."""
    done = await session.execute(
        update(Agreement)
        .where(Agreement.id == agreement_id, Agreement.row_version == read_version)
        .values(row_version=Agreement.row_version + 1, **values)
        .returning(Agreement.id)
    )
    return done.first() is not None


# --- information ------------------------------------------------------------------------------------


async def get_information(session: AsyncSession, information_id: int) -> AgreementInformation | None:
    return await session.get(AgreementInformation, information_id)


async def information_of(session: AsyncSession, agreement_id: int) -> Sequence[AgreementInformation]:
    q = (
        select(AgreementInformation)
        .where(AgreementInformation.agreement_id == agreement_id)
        .order_by(AgreementInformation.period, AgreementInformation.revision)
    )
    return (await session.execute(q)).scalars().all()


async def latest_revision(session: AsyncSession, agreement_id: int, period: str) -> AgreementInformation | None:
    q = (
        select(AgreementInformation)
        .where(AgreementInformation.agreement_id == agreement_id, AgreementInformation.period == period)
        .order_by(AgreementInformation.revision.desc())
        .limit(1)
    )
    return (await session.execute(q)).scalar_one_or_none()


async def figures_of(session: AsyncSession, information_ids: Sequence[int]) -> dict[int, dict[str, Decimal]]:
    out: dict[int, dict[str, Decimal]] = {i: {} for i in information_ids}
    if not information_ids:
        return out
    q = (
        select(AgreementInformationFigure)
        .where(AgreementInformationFigure.information_id.in_(information_ids))
        .order_by(AgreementInformationFigure.indicator_code)
    )
    for row in (await session.execute(q)).scalars():
        out[row.information_id][row.indicator_code] = row.value
    return out


async def replace_figures(session: AsyncSession, information_id: int, figures: dict[str, Decimal]) -> None:
    await session.execute(
        delete(AgreementInformationFigure).where(AgreementInformationFigure.information_id == information_id)
    )
    if figures:
        await session.execute(
            insert(AgreementInformationFigure),
            [dict(information_id=information_id, indicator_code=k, value=v) for k, v in figures.items()],
        )


async def bump_information(
    session: AsyncSession, information_id: int, read_version: int, expected: ReviewState, **values: Any
) -> bool:
    """Write `values` and the next row version, guarded by the version and the state read: of two reviewers acting
    on the same read, one writes and the other finds nothing to update (False)."""
    done = await session.execute(
        update(AgreementInformation)
        .where(
            AgreementInformation.id == information_id,
            AgreementInformation.row_version == read_version,
            AgreementInformation.state == expected,
        )
        .values(row_version=AgreementInformation.row_version + 1, **values)
        .returning(AgreementInformation.id)
    )
    return done.first() is not None


async def information_of_year(session: AsyncSession, year: int) -> Sequence[tuple[AgreementInformation, str]]:
    """Every information row of the year's agreements, with the agreement's region."""
    q = (
        select(AgreementInformation, Agreement.region_code)
        .join(Agreement, Agreement.id == AgreementInformation.agreement_id)
        .where(Agreement.year == year)
        .order_by(AgreementInformation.id)
    )
    return [(row[0], row[1]) for row in (await session.execute(q)).all()]


async def accepted_norm_figures(session: AsyncSession, year: int, region: str | None) -> list[dict[str, Any]]:
    """The figures accepted information gives for access-norm indicators of a year's agreements: one row per
    region, norm, period and revision (the caller picks the latest period and revision)."""
    q = (
        select(
            Agreement.region_code,
            Agreement.id.label("agreement_id"),
            AgreementFormIndicator.norm_code,
            AgreementInformation.id.label("information_id"),
            AgreementInformation.period,
            AgreementInformation.revision,
            AgreementInformation.reviewed_at,
            AgreementInformation.reviewed_by,
            AgreementInformationFigure.indicator_code,
            AgreementInformationFigure.value,
        )
        .join(AgreementInformation, AgreementInformation.agreement_id == Agreement.id)
        .join(AgreementInformationFigure, AgreementInformationFigure.information_id == AgreementInformation.id)
        .join(
            AgreementFormIndicator,
            (AgreementFormIndicator.form_id == Agreement.form_id)
            & (AgreementFormIndicator.code == AgreementInformationFigure.indicator_code),
        )
        .where(
            Agreement.year == year,
            AgreementInformation.state == ReviewState.accepted,
            AgreementFormIndicator.kind == IndicatorKind.access_norm,
        )
    )
    if region:
        q = q.where(Agreement.region_code == region)
    return [dict(r._mapping) for r in (await session.execute(q)).all()]
