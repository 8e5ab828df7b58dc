"""The rules of the scoring service over the database (medical technologies and their first use in the world).
Services flush; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import ClinicalProfile
from services.common.models.scoring import Technology, TechnologyFirstUse
from services.scoring import rules
from services.scoring.audit import changed, snapshot
from services.scoring.etags import bump_version, check_if_match, etag
from services.scoring.technologies import repository as repo
from services.scoring.technologies.schemas import FirstUseIn, FirstUseOut, TechnologyIn, TechnologyOut, TechnologyPatch


async def create_technology(session: AsyncSession, data: TechnologyIn, who: Principal) -> Technology:
    _check_first_use(data.first_used_world_year, data.first_used_world_on, data.introduced_kz_year)
    await _check_profile(session, data.clinical_profile)
    if await session.scalar(select(Technology.id).where(Technology.code == data.code)):
        raise Conflict(f"technology {data.code!r} exists", [FieldError("code", "already used")])
    tech = Technology(**data.model_dump(), row_version=1)
    session.add(tech)
    await session.flush()
    _add_registered_first_use(session, tech)
    await changed(session, who, "create", "technology", tech, None)
    return tech


async def _check_profile(session: AsyncSession, code: str) -> None:
    """A clinical profile of the guarantee programme's vocabulary (`GET /api/v1/clinical-profiles` of the registry
    API), by its code."""
    if await session.get(ClinicalProfile, code) is None:
        raise ValidationFailed(
            f"unknown clinical profile {code!r}",
            [FieldError("clinical_profile", "unknown: a code of /api/v1/clinical-profiles (e.g. cardiac_surgery)")],
        )


REGISTERED = "as registered"


def _add_registered_first_use(session: AsyncSession, tech: Technology) -> None:
    """The first entry of the technology's first-use history: its value as registered, in force for every date
    before a correction (no effective date)."""
    session.add(
        TechnologyFirstUse(
            technology_id=tech.id,
            effective_from=None,
            first_used_world_year=tech.first_used_world_year,
            first_used_world_on=tech.first_used_world_on,
            basis=REGISTERED,
            set_by=None,
        )
    )


def _check_first_use(year: int, on: date | None, kz_year: int | None, correcting: bool = False) -> None:
    """A first-use date in its year, not after the year of introduction in Kazakhstan (blamed on the first use
    when that is what is being corrected)."""
    if on is not None and on.year != year:
        raise ValidationFailed(
            "first_used_world_on is not in first_used_world_year", [FieldError("first_used_world_on", f"not in {year}")]
        )
    if kz_year is not None and kz_year < year:
        error = (
            FieldError("first_used_world_year", f"after introduced_kz_year {kz_year}")
            if correcting
            else FieldError("introduced_kz_year", f"before first_used_world_year {year}")
        )
        raise ValidationFailed("introduced in Kazakhstan before its first use in the world", [error])


async def patch_technology(
    session: AsyncSession, technology_id: int, data: TechnologyPatch, if_match: str | None, who: Principal
) -> Technology:
    tech = await repo.get_technology(session, technology_id)
    read = tech.row_version
    before = snapshot(tech)
    check_if_match(if_match, etag("technology", tech.id, read))
    changes = data.model_dump(exclude_unset=True)
    for key in ("name_kk", "clinical_profile", "first_used_world_year", "codes"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} may not be null", [FieldError(key, "may not be null")])
    # The first use is history (scoring as of a date uses the value of that date): it is not overwritten here.
    moved = [
        k for k in ("first_used_world_year", "first_used_world_on") if k in changes and changes[k] != getattr(tech, k)
    ]
    if moved:
        raise ValidationFailed(
            "the first use in the world is corrected through PUT /technologies/{id}/first-use, which keeps the "
            "earlier value",
            [
                FieldError(k, "a correction goes through PUT /technologies/{id}/first-use (with its basis)")
                for k in moved
            ],
        )
    if "clinical_profile" in changes and changes["clinical_profile"] != tech.clinical_profile:
        await _check_profile(session, changes["clinical_profile"])
    year = changes.get("first_used_world_year", tech.first_used_world_year)
    on = changes.get("first_used_world_on", tech.first_used_world_on)
    _check_first_use(year, on, changes.get("introduced_kz_year", tech.introduced_kz_year))
    for key, value in changes.items():
        setattr(tech, key, value)
    await bump_version(session, tech, read)
    await changed(session, who, "update", "technology", tech, before)
    return tech


def first_use(tech: Technology) -> date:
    """The technology's first use in the world as it stands now (the latest value)."""
    return rules.first_use_date(tech.first_used_world_year, tech.first_used_world_on)


async def first_use_on(session: AsyncSession, tech: Technology, on: date) -> date:
    """The technology's first use in the world in force on `on` (what its age on `on` is counted from): a
    correction applies from the day it was recorded; before it, the earlier value."""
    row = await repo.first_use_in_force(session, tech.id, on)
    if row is None:  # no history recorded (written outside the service): the columns are the only value
        return first_use(tech)
    return rules.first_use_date(row.first_used_world_year, row.first_used_world_on)


async def set_first_use(
    session: AsyncSession, technology_id: int, data: FirstUseIn, if_match: str | None, who: Principal
) -> Technology:
    """Record a correction of the technology's first use. Nothing is overwritten: the correction is a new row of
    the technology's history, in force from the day it is recorded (UTC), so scoring as of an earlier date
    still uses the earlier value. The technology's columns are refreshed to the new (latest) value."""
    tech = await repo.get_technology(session, technology_id, lock=True)
    check_if_match(if_match, etag("technology", tech.id, tech.row_version))
    _check_first_use(data.first_used_world_year, data.first_used_world_on, tech.introduced_kz_year, correcting=True)
    before = snapshot(tech)
    if not (await repo.first_uses(session, [tech.id]))[tech.id]:
        _add_registered_first_use(session, tech)  # a row written outside the service: keep what it held
    set_at = datetime.now(UTC)
    await repo.FIRST_USES.append(
        session,
        tech,
        TechnologyFirstUse(
            effective_from=set_at.date(),
            first_used_world_year=data.first_used_world_year,
            first_used_world_on=data.first_used_world_on,
            basis=data.basis,
            set_by=who.label,
            set_at=set_at,
        ),
    )
    await changed(session, who, "correct-first-use", "technology", tech, before)
    return tech


async def first_use_history(session: AsyncSession, technology_id: int) -> list[TechnologyFirstUse]:
    await repo.get_technology(session, technology_id)
    return (await repo.first_uses(session, [technology_id]))[technology_id]


async def first_use_row_on(session: AsyncSession, technology_id: int, on: date) -> TechnologyFirstUse:
    tech = await repo.get_technology(session, technology_id)
    row = await repo.first_use_in_force(session, tech.id, on)
    if row is None:
        raise NotFound(
            f"technology {tech.code} has no recorded first-use history", [FieldError("on", "no value recorded")]
        )
    return row


async def technology_outs(session: AsyncSession, techs: Sequence[Technology]) -> list[TechnologyOut]:
    """Technologies with their first-use histories (one query for all)."""
    history = await repo.first_uses(session, [t.id for t in techs])
    return [
        TechnologyOut.model_validate(t).model_copy(
            update={"first_uses": [FirstUseOut.model_validate(r) for r in history[t.id]]}
        )
        for t in techs
    ]


async def technology_out(session: AsyncSession, tech: Technology) -> TechnologyOut:
    return (await technology_outs(session, [tech]))[0]


async def list_technologies(session: AsyncSession, limit: int, offset: int) -> tuple[list[Technology], int]:
    return await repo.list_technologies(session, limit, offset)


async def get_technology(session: AsyncSession, technology_id: int) -> Technology:
    return await repo.get_technology(session, technology_id)
