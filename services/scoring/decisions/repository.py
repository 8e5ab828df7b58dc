"""Queries of the scoring service: decisions, the HTMC list over time, moves to specialised care."""

from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.scoring import Application, Decision, DecisionKind, ListEntry, Technology
from services.common.validity import in_force
from services.scoring.technologies.repository import first_use_on_subquery


async def open_entry(session: AsyncSession, technology_id: int, *, lock: bool = False) -> ListEntry | None:
    """The technology's current listing; `lock`: held until the transaction ends, so that of two moves at once the
    second waits and then finds it closed."""
    stmt = select(ListEntry).where(ListEntry.technology_id == technology_id, ListEntry.valid_to.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def list_at(session: AsyncSession, on: date) -> list[tuple[ListEntry, Technology]]:
    rows = (
        await session.execute(
            select(ListEntry, Technology)
            .join(Technology, Technology.id == ListEntry.technology_id)
            .where(in_force(ListEntry, on))
            .order_by(Technology.code)
        )
    ).all()
    return [(e, t) for e, t in rows]


async def list_history(session: AsyncSession, technology_id: int | None) -> list[tuple[ListEntry, Technology]]:
    stmt = select(ListEntry, Technology).join(Technology, Technology.id == ListEntry.technology_id)
    if technology_id is not None:
        stmt = stmt.where(ListEntry.technology_id == technology_id)
    rows = (await session.execute(stmt.order_by(Technology.code, ListEntry.valid_from))).all()
    return [(e, t) for e, t in rows]


async def decisions(
    session: AsyncSession, technology_id: int | None, limit: int, offset: int
) -> tuple[list[Decision], int]:
    stmt = select(Decision)
    count = select(func.count()).select_from(Decision)
    if technology_id is not None:
        stmt = stmt.where(Decision.technology_id == technology_id)
        count = count.where(Decision.technology_id == technology_id)
    total = await session.scalar(count) or 0
    rows = await session.scalars(stmt.order_by(Decision.decided_on, Decision.id).limit(limit).offset(offset))
    return list(rows), total


def _latest_decision_ids(on: date) -> Any:
    """Ids of each technology's latest include/refuse decision taken on or before `on`."""
    ranked = (
        select(
            Decision.id,
            func.row_number()
            .over(partition_by=Decision.technology_id, order_by=(Decision.decided_on.desc(), Decision.id.desc()))
            .label("rank"),
        )
        .where(
            Decision.kind.in_([DecisionKind.include, DecisionKind.refuse]),
            Decision.decided_on <= on,
            Decision.application_id.is_not(None),
        )
        .subquery()
    )
    return select(ranked.c.id).where(ranked.c.rank == 1)


async def latest_decisions(session: AsyncSession, on: date) -> list[tuple[Decision, Application, Technology]]:
    """Per technology, its latest include/refuse decision taken on or before `on`."""
    sub = _latest_decision_ids(on)
    rows = (
        await session.execute(
            select(Decision, Application, Technology)
            .join(Application, Application.id == Decision.application_id)
            .join(Technology, Technology.id == Decision.technology_id)
            .where(Decision.id.in_(sub))
            .order_by(Technology.code)
        )
    ).all()
    return [(d, a, t) for d, a, t in rows]


async def latest_decision_rows(session: AsyncSession, on: date) -> list[Any]:
    """Like `latest_decisions`, as plain rows (kind, application_id, panel_score, technology_id,
    first_used_world_year, first_used_world_on: the first use in force on `on`) for bulk use (no ORM objects)."""
    sub = _latest_decision_ids(on)
    fu = first_use_on_subquery(on)
    corrected = fu.c.technology_id.is_not(None)
    rows = await session.execute(
        select(
            Decision.kind,
            Application.id,
            Application.panel_score,
            Technology.id,
            case((corrected, fu.c.first_used_world_year), else_=Technology.first_used_world_year),
            case((corrected, fu.c.first_used_world_on), else_=Technology.first_used_world_on),
        )
        .join(Application, Application.id == Decision.application_id)
        .join(Technology, Technology.id == Decision.technology_id)
        .outerjoin(fu, fu.c.technology_id == Technology.id)
        .where(Decision.id.in_(sub))
        .order_by(Technology.code)
    )
    return list(rows.all())


async def listed_ids(session: AsyncSession, on: date) -> set[int]:
    """Ids of the technologies on the list on `on`."""
    rows = await session.scalars(select(ListEntry.technology_id).where(in_force(ListEntry, on)))
    return set(rows.all())
