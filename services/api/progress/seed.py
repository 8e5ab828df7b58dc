"""What the loader brings for the monitoring cycle (idempotent): the holiday calendar, the reporting rules stated
outside the plans' transcriptions (the guarantee programme's item 81), and every document's expected reports."""

import json
import logging
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.progress.calendar import import_calendar
from services.api.progress.expected import sync_all
from services.api.registry.importer import reporting_rule
from services.common.models.registry import Document, ReportingRule
from services.common.settings import get_settings

log = logging.getLogger("loader")

GUARANTEE_SLUG = "guarantee-programme-2026-2028"
GUARANTEE_RULES = ("guarantee", "reporting-rules.json")


async def import_guarantee_rules(session: AsyncSession) -> int:
    """The guarantee programme's reporting rules (item 81), added once; later versions are the administrator's."""
    path = get_settings().data_dir.joinpath(*GUARANTEE_RULES)
    document_id = await session.scalar(select(Document.id).where(Document.slug == GUARANTEE_SLUG))
    if document_id is None or not path.exists():
        return 0
    added = 0
    for rule in json.loads(path.read_text(encoding="utf-8"))["reporting_rules"]:
        held = await session.scalar(
            select(ReportingRule.id).where(
                ReportingRule.document_id == document_id, ReportingRule.rule_key == rule["key"]
            )
        )
        if held is not None:
            continue
        session.add(reporting_rule(document_id, rule, date.fromisoformat(rule["valid_from"])))
        added += 1
    await session.flush()
    return added


async def load_monitoring(maker: async_sessionmaker[AsyncSession]) -> None:
    async with maker() as session, session.begin():
        days = await import_calendar(session, get_settings().data_dir)
        rules = await import_guarantee_rules(session)
        expected = await sync_all(session)
    log.info("monitoring: %d calendar days, %d reporting rules added; expected reports %s", days, rules, expected)
