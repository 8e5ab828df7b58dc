"""Jobs run by the report worker: reports (they take ids; each opens its own unit of work), and the upkeep of what
the reports read."""

import logging
from datetime import date
from typing import Any

from services.common import executed_volume
from services.common.db import driver_connection, unit_of_work
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


async def index_executed_volumes(ctx: dict[str, Any]) -> int:
    """Build the read index of every upload of executed volumes that has none yet (see
    services.common.executed_volume); each in its own transaction, so that an upload's table is locked against
    writes only while its own index is built. Returns how many were built."""
    built = 0
    async with unit_of_work(ctx["sessionmaker"]) as session:
        pending = await executed_volume.unindexed_partitions(await driver_connection(session))
    for batch_no in pending:
        async with unit_of_work(ctx["sessionmaker"]) as session:
            built += await executed_volume.read_index(await driver_connection(session), batch_no)
    if built:
        log.info("read index built for %d upload(s) of executed volumes", built)
    return built
