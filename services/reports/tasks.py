"""The work of the report worker's jobs: each report opens its own unit of work (services.common.worker claims,
beats and sweeps)."""

import logging
from datetime import date
from typing import Any

from services.common.db import unit_of_work
from services.common.models.reports import ReportJob
from services.reports.annual_plan import annual_plan_report

log = logging.getLogger(__name__)

REPORTS = {"annual_plan": annual_plan_report}


async def run_report(ctx: dict[str, Any], job: ReportJob) -> dict[str, Any]:
    """The work of a claimed report job (services.common.worker runs it): the report, stored when done."""
    async with unit_of_work(ctx["sessionmaker"]) as session:
        params = dict(job.params)
        result = await REPORTS[job.kind](
            session, params["document"], int(params["year"]), date.fromisoformat(params["as_of"])
        )
    return {"result": result}
