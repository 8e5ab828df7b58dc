"""The figures a progress report exposes to the validation rules: a mapping name -> Decimal | None.

  spent.<source>, planned.<source> for every funding source, spent.total, planned.total (thousand tenge, the
  report's year); parts.spent.<source>, parts.spent.total (the co-executors' submitted or accepted reports summed,
  for a lead);
  indicator.<number>.actual, indicator.<number>.previous (last year's accepted actual of the same organisation),
  indicator.<number>.target (the document's target for the year), for each indicator the report names.

A figure nobody gave is None (the rule's missing-value strategy decides what that means).
"""

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress import repository as repo
from services.common.models.registry import FundingSource

Figures = dict[str, Decimal | None]


async def report_figures(
    session: AsyncSession,
    context: repo.Context,
    spent: dict[FundingSource, Decimal],
    actuals: list[tuple[int, int, Decimal]],
) -> Figures:
    year = context.expected.period_year
    planned = await repo.planned(session, context.measure_version.id, year)
    figures: Figures = {}
    for source in FundingSource:
        figures[f"spent.{source.value}"] = spent.get(source)
        figures[f"planned.{source.value}"] = planned.get(source)
    figures["spent.total"] = sum(spent.values(), Decimal(0)) if spent else None
    figures["planned.total"] = sum(planned.values(), Decimal(0)) if planned else None
    if context.expected.lead_id is None:
        parts = await repo.parts_spending(session, context.expected.id)
        if parts is not None:
            for source in FundingSource:
                figures[f"parts.spent.{source.value}"] = parts.get(source.value)
            figures["parts.spent.total"] = parts.get("total")
    ids = [indicator_id for _, indicator_id, _ in actuals]
    targets = await repo.indicator_targets(session, ids, year)
    previous = await repo.previous_actuals(session, context.expected.organisation_id, ids, year)
    for number, indicator_id, value in actuals:
        figures[f"indicator.{number}.actual"] = value
        figures[f"indicator.{number}.previous"] = previous.get(indicator_id)
        figures[f"indicator.{number}.target"] = targets.get(indicator_id)
    return figures
