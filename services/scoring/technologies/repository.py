"""Queries of the scoring service: medical technologies and their first use in the world."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.common.models.scoring import Technology, TechnologyFirstUse
from services.common.validity import has_taken_effect, latest_effective_first
from services.scoring.history import History


async def get_technology(session: AsyncSession, technology_id: int, *, lock: bool = False) -> Technology:
    tech = await session.get(Technology, technology_id, with_for_update=True if lock else None)
    if tech is None:
        raise NotFound(f"technology {technology_id} does not exist")
    return tech


# A technology's first use in the world: the value as registered (no effective date), then each correction from the
# day it was recorded; the technology's columns copy the latest.
FIRST_USES = History(
    TechnologyFirstUse,
    owner_key="technology_id",
    copies={"first_used_world_year": "first_used_world_year", "first_used_world_on": "first_used_world_on"},
)


async def first_uses(session: AsyncSession, technology_ids: Sequence[int]) -> dict[int, list[TechnologyFirstUse]]:
    """Every value of these technologies' first use, each in the order they take effect (the registered value,
    then the corrections by effective date and id)."""
    return await FIRST_USES.entries(session, technology_ids)


async def first_use_in_force(session: AsyncSession, technology_id: int, on: date) -> TechnologyFirstUse | None:
    """The technology's first-use value in force on `on`: the latest one in effect (the registered value, with
    no effective date, before any correction). None when no history is recorded (a row written outside the
    service): its columns are then the only value."""
    return await FIRST_USES.in_force(session, technology_id, on)


def first_use_on_subquery(on: date) -> Any:
    """Per technology with a correction taking effect after `on`, its first-use value in force on `on` (the others'
    columns hold it: they copy the latest value)."""
    later = select(TechnologyFirstUse.technology_id).where(TechnologyFirstUse.effective_from > on)
    return (
        select(
            TechnologyFirstUse.technology_id,
            TechnologyFirstUse.first_used_world_year,
            TechnologyFirstUse.first_used_world_on,
        )
        .ext(distinct_on(TechnologyFirstUse.technology_id))
        .where(
            TechnologyFirstUse.technology_id.in_(later),
            has_taken_effect(TechnologyFirstUse, on),
        )
        .order_by(TechnologyFirstUse.technology_id, *latest_effective_first(TechnologyFirstUse))
        .subquery()
    )


async def list_technologies(session: AsyncSession, limit: int, offset: int) -> tuple[list[Technology], int]:
    total = await session.scalar(select(func.count()).select_from(Technology)) or 0
    rows = await session.scalars(select(Technology).order_by(Technology.code).limit(limit).offset(offset))
    return list(rows), total
