"""The queries of indicator actuals and achievement: indicators and their printed targets, the rule in force, the
accepted actual that counts on a day, and the versions of a filing."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.achievement.rules import Printed
from services.common.concurrency import add_version
from services.common.models.achievement import IndicatorActual, IndicatorRule
from services.common.models.reference import Organisation
from services.common.models.registry import Document, Indicator, IndicatorTarget, ReportingRule
from services.common.review import ReviewState
from services.common.validity import in_force


async def indicator(session: AsyncSession, indicator_id: int) -> Indicator | None:
    return await session.get(Indicator, indicator_id)


async def document_id(session: AsyncSession, slug: str) -> int | None:
    return await session.scalar(select(Document.id).where(Document.slug == slug))


async def indicators_of(session: AsyncSession, document: int, as_of: date) -> Sequence[Indicator]:
    return (
        await session.scalars(
            select(Indicator)
            .where(Indicator.document_id == document, in_force(Indicator, as_of))
            .order_by(Indicator.number)
        )
    ).all()


async def targets(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[int, list[Printed]]]:
    """Every printed target of the indicators, by indicator and year (each source's own)."""
    out: dict[int, dict[int, list[Printed]]] = defaultdict(lambda: defaultdict(list))
    rows = await session.scalars(
        select(IndicatorTarget)
        .where(IndicatorTarget.indicator_id.in_(ids))
        .order_by(IndicatorTarget.indicator_id, IndicatorTarget.year, IndicatorTarget.source)
    )
    for t in rows:
        out[t.indicator_id][t.year].append(Printed(t.source, t.kind, t.value, t.ratio_consequent, t.printed))
    return out


async def rules_in_force(session: AsyncSession, ids: Sequence[int], on: date) -> dict[int, IndicatorRule]:
    rows = await session.scalars(
        select(IndicatorRule).where(IndicatorRule.indicator_id.in_(ids), in_force(IndicatorRule, on))
    )
    return {r.indicator_id: r for r in rows}


async def latest_rule(session: AsyncSession, indicator_id: int) -> IndicatorRule | None:
    return await session.scalar(
        select(IndicatorRule)
        .where(IndicatorRule.indicator_id == indicator_id)
        .order_by(IndicatorRule.version.desc())
        .limit(1)
    )


async def rule_history(session: AsyncSession, indicator_id: int) -> Sequence[IndicatorRule]:
    return (
        await session.scalars(
            select(IndicatorRule).where(IndicatorRule.indicator_id == indicator_id).order_by(IndicatorRule.version)
        )
    ).all()


async def organisation_codes(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Organisation.id, Organisation.code).where(Organisation.id.in_(ids)))
    return {i: c for i, c in rows.all()}


async def organisation_id(session: AsyncSession, code: str) -> int | None:
    return await session.scalar(select(Organisation.id).where(Organisation.code == code))


async def counted_actuals(
    session: AsyncSession, ids: Sequence[int], on: date, year: int | None = None
) -> dict[tuple[int, int], IndicatorActual]:
    """The actual that counts on `on` for each indicator and year: its newest accepted version recorded on or before
    that day (a correction waiting for review leaves the accepted one counting)."""
    query = (
        select(IndicatorActual)
        .where(
            IndicatorActual.indicator_id.in_(ids),
            IndicatorActual.state == ReviewState.accepted,
            IndicatorActual.valid_from <= on,
        )
        .order_by(IndicatorActual.indicator_id, IndicatorActual.year, IndicatorActual.version.desc())
        .ext(distinct_on(IndicatorActual.indicator_id, IndicatorActual.year))
    )
    if year is not None:
        query = query.where(IndicatorActual.year == year)
    return {(a.indicator_id, a.year): a for a in await session.scalars(query)}


async def current_actual(session: AsyncSession, indicator_id: int, year: int) -> IndicatorActual | None:
    return await session.scalar(
        select(IndicatorActual).where(
            IndicatorActual.indicator_id == indicator_id,
            IndicatorActual.year == year,
            IndicatorActual.valid_to.is_(None),
        )
    )


async def actual_history(session: AsyncSession, indicator_id: int, year: int) -> Sequence[IndicatorActual]:
    return (
        await session.scalars(
            select(IndicatorActual)
            .where(IndicatorActual.indicator_id == indicator_id, IndicatorActual.year == year)
            .order_by(IndicatorActual.version)
        )
    ).all()


async def add_actual(session: AsyncSession, **values: Any) -> IndicatorActual:
    row = IndicatorActual(**values)
    session.add(row)
    await session.flush()
    return row


async def add_rule(session: AsyncSession, **values: Any) -> IndicatorRule:
    """The next version of an indicator's rule; a concurrent writer that stored this version first: 412."""
    row = IndicatorRule(**values)
    await add_version(session, row)
    return row


async def max_year(session: AsyncSession, indicator_id: int) -> tuple[int | None, int | None]:
    row = (
        await session.execute(
            select(func.min(IndicatorTarget.year), func.max(IndicatorTarget.year)).where(
                IndicatorTarget.indicator_id == indicator_id
            )
        )
    ).one()
    return row[0], row[1]


async def reporting_day(session: AsyncSession, document_id: int, year: int) -> date | None:
    """The day the executors report the year to the ministry, by the decree's own rule (None when it states none)."""
    rule = await session.scalar(
        select(ReportingRule)
        .where(ReportingRule.document_id == document_id, ReportingRule.reporter == "executors")
        .order_by(ReportingRule.id)
        .limit(1)
    )
    if rule is None:
        return None
    return date(year + (1 if rule.relative_year == "following" else 0), rule.month, rule.day)
